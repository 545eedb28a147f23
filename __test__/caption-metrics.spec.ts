/**
 * The caption metrics against the COCO caption evaluation's own values: `pycocoevalcap` run on
 * fixed caption sets by `scripts/reference/caption-metrics.sh`, its outputs committed in
 * `fixtures/caption-metrics.json`.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

import { bleu, ciderD, meteor, meteorTokens, porter2, rougeL, scoreCaptions, tokenizeCaption } from '../src/index.js'
import { expectCode } from './helpers.js'

interface Reference {
  candidates: string[]
  references: string[][]
  bleu: number[]
  bleuPerCaption: number[][]
  rougeL: number
  rougeLPerCaption: number[]
  ciderD: number
  ciderDPerCaption: number[]
  /** pycocoevalcap's default METEOR (modules exact, stem, synonym, paraphrase). */
  meteor: number
  meteorPerCaption: number[]
}

/** `meteor-1.5.jar -m "exact stem"` (scripts/reference/meteor.py). */
const meteorFixture = JSON.parse(readFileSync(new URL('./fixtures/meteor.json', import.meta.url), 'utf8')) as {
  source: string
  sets: Record<string, { candidates: string[]; references: string[][]; perCaption: number[]; corpus: number }>
  stems: Record<string, string>
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/caption-metrics.json', import.meta.url), 'utf8')) as { source: string; sets: Record<string, Reference> }
const split = (s: string) => s.split(' ')

/** Equal to the reference value up to float64 rounding of a different summation order. */
function expectClose(got: number[], want: number[], what: string) {
  expect(got.length, what).toBe(want.length)
  got.forEach((g, i) => expect(Math.abs(g - want[i]!), `${what}[${i}]: ${g} vs ${want[i]}`).toBeLessThan(1e-12 + 1e-12 * Math.abs(want[i]!)))
}

describe(`caption metrics match the reference implementation (${fixture.source})`, () => {
  for (const [name, ref] of Object.entries(fixture.sets)) {
    it(`on the ${name} set`, () => {
      const cands = ref.candidates.map(split)
      const refs = ref.references.map((r) => r.map(split))
      const b = bleu(cands, refs)
      expectClose(b.corpus, ref.bleu, 'corpus BLEU-1..4')
      b.perCaption.forEach((p, i) => expectClose(p, ref.bleuPerCaption[i]!, `BLEU of caption ${i}`))
      const r = rougeL(cands, refs)
      expectClose([r.mean], [ref.rougeL], 'ROUGE-L')
      expectClose(r.perCaption, ref.rougeLPerCaption, 'ROUGE-L per caption')
      const c = ciderD(cands, refs)
      expectClose([c.mean], [ref.ciderD], 'CIDEr-D')
      expectClose(c.perCaption, ref.ciderDPerCaption, 'CIDEr-D per caption')
      // The sets are not degenerate: every metric takes several values.
      for (const per of [r.perCaption, c.perCaption]) expect(new Set(per.map((v) => v.toFixed(6))).size).toBeGreaterThan(3)
      // On these two sets WordNet synonyms and paraphrases add nothing: exact + stem METEOR is
      // pycocoevalcap's default METEOR here (not in general: see meteor.ts).
      const m = meteor(cands, refs)
      expectClose([m.corpus], [ref.meteor], 'METEOR')
      expectClose(m.perCaption, ref.meteorPerCaption, 'METEOR per caption')
    })
  }

  it('scores raw text through the tokenizer; errors are coded', async () => {
    expect(meteorTokens(["don't", "dog's", '1990s', "1990's", 'café', 'naïve', '東京'])).toEqual(['don', "'t", 'dog', "'s", '1990s', '1990', "'s", 'café', 'naïve', '東', '京'])
    expect(tokenizeCaption("The Red circle, moving LEFT! It's 2 shapes.")).toEqual(['the', 'red', 'circle', 'moving', 'left', "it's", '2', 'shapes'])
    const set = fixture.sets['demo-like']!
    const s = scoreCaptions(
      set.candidates.map((c) => c.toUpperCase() + '.'),
      set.references,
    )
    expectClose([s.bleu4, s.rougeL, s.ciderD, s.meteor], [set.bleu[3]!, set.rougeL, set.ciderD, set.meteor], 'raw-text scores')
    expect(s.bleu).toHaveLength(4)
    // A perfect candidate set scores 1 on BLEU and ROUGE-L.
    const perfect = scoreCaptions(['a red circle moves left', 'the blue square falls down'], [['a red circle moves left'], ['the blue square falls down']])
    expect(perfect.bleu4).toBeCloseTo(1, 9)
    expect(perfect.rougeL).toBeCloseTo(1, 9)
    await expectCode(() => scoreCaptions([], []), 'InvalidInput', /no candidates/)
    await expectCode(() => scoreCaptions(['a b'], []), 'InvalidInput', /1 candidates but 0/)
    await expectCode(() => scoreCaptions(['a b'], [[]]), 'InvalidInput', /no references/)
  })
})

describe(`METEOR (exact + stem) matches Meteor 1.5 (${meteorFixture.source})`, () => {
  it('stems every word of a 6984-word vocabulary as its Snowball stemmer does', () => {
    const words = Object.entries(meteorFixture.stems)
    expect(words.length).toBeGreaterThan(6000)
    const wrong = words.filter(([w, stem]) => porter2(w) !== stem)
    expect(wrong).toEqual([])
    // Not the identity: most words lose a suffix.
    expect(words.filter(([w, stem]) => w !== stem).length).toBeGreaterThan(words.length / 2)
  })

  for (const [name, set] of Object.entries(meteorFixture.sets)) {
    it(`scores the ${name} set (${set.candidates.length} captions) as the jar does, per caption and for the corpus`, () => {
      const tokens = (s: string) => s.split(' ').filter(Boolean)
      const m = meteor(set.candidates.map(tokens), set.references.map((r) => r.map(tokens)))
      expectClose(m.perCaption, set.perCaption, 'METEOR per caption')
      expectClose([m.corpus], [set.corpus], 'METEOR corpus')
      expect(new Set(m.perCaption.map((v) => v.toFixed(6))).size).toBeGreaterThan(3)
    })
  }

  it('the corpus score is the aggregate of the statistics, not the mean of the captions', () => {
    const set = meteorFixture.sets.corners!
    const mean = set.perCaption.reduce((a, v) => a + v, 0) / set.perCaption.length
    expect(Math.abs(mean - set.corpus)).toBeGreaterThan(1e-3)
  })
})

