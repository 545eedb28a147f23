/**
 * The caption metrics against the COCO caption evaluation's own values: `pycocoevalcap` run on
 * fixed caption sets by `scripts/reference/caption-metrics.sh`, its outputs committed in
 * `fixtures/caption-metrics.json`.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

import { bleu, ciderD, rougeL, scoreCaptions, tokenizeCaption } from '../src/index.js'
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
    })
  }

  it('scores raw text through the tokenizer; errors are coded', async () => {
    expect(tokenizeCaption("The Red circle, moving LEFT! It's 2 shapes.")).toEqual(['the', 'red', 'circle', 'moving', 'left', "it's", '2', 'shapes'])
    const set = fixture.sets['demo-like']!
    const s = scoreCaptions(
      set.candidates.map((c) => c.toUpperCase() + '.'),
      set.references,
    )
    expectClose([s.bleu4, s.rougeL, s.ciderD], [set.bleu[3]!, set.rougeL, set.ciderD], 'raw-text scores')
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
