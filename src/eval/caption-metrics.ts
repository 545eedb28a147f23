/**
 * Caption metrics as the COCO caption evaluation (`pycocoevalcap`) defines them, on tokenised
 * captions: corpus BLEU-1…4 (brevity penalty against the closest reference length), ROUGE-L
 * (the LCS F-measure with β = 1.2 against the best reference, averaged over captions) and CIDEr-D
 * (TF-IDF n-gram vectors with document frequencies from the reference corpus, clipped candidate
 * counts, a Gaussian length penalty with σ = 6, ×10). `__test__/caption-metrics.spec.ts` checks
 * every value against the reference implementation's outputs on fixed caption sets
 * (`scripts/reference/caption_metrics.py` wrote them). METEOR (exact + stem modules) is in
 * `meteor.ts`; `scoreCaptions` reports it beside these.
 */
import { VideoBertError } from '../errors.js'
import { meteor } from './meteor.js'

/**
 * Lower-cased word tokens without punctuation — what the COCO evaluation's PTB tokenizer makes of
 * a plain caption (it also splits clitics such as "'s"; this keeps letters, digits and inner
 * apostrophes together).
 */
export function tokenizeCaption(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu) ?? []
}

type Counts = Map<string, number>

/** n-gram counts of `tokens` for n = 1…`max`, keyed by the n-gram's words joined with a space. */
function ngramCounts(tokens: string[], max: number): Counts {
  const counts: Counts = new Map()
  for (let n = 1; n <= max; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(' ')
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
  }
  return counts
}

const order = (key: string) => key.split(' ').length

function checkPairs(candidates: string[][], references: string[][][]): void {
  if (candidates.length === 0) throw new VideoBertError('InvalidInput', 'caption metrics: no candidates')
  if (candidates.length !== references.length) {
    throw new VideoBertError('InvalidInput', `caption metrics: ${candidates.length} candidates but ${references.length} reference sets`)
  }
  references.forEach((refs, i) => {
    if (refs.length === 0) throw new VideoBertError('InvalidInput', `caption metrics: candidate ${i} has no references`)
  })
}

/** BLEU-1…4 of a corpus and of each candidate (`bleu`). */
export interface BleuScores {
  /** Corpus BLEU-1…4 (n-gram matches and lengths summed over the corpus, then one brevity penalty). */
  corpus: number[]
  /** Per candidate: its own BLEU-1…4. */
  perCaption: number[][]
}

/** BLEU-1…`n` as `pycocoevalcap`'s `Bleu` (option "closest"; its 1e-9 / 1e-15 smoothing constants). */
export function bleu(candidates: string[][], references: string[][][], n = 4): BleuScores {
  checkPairs(candidates, references)
  const small = 1e-9
  const tiny = 1e-15
  const guess = Array.from<number>({ length: n }).fill(0)
  const correct = Array.from<number>({ length: n }).fill(0)
  let testTotal = 0
  let refTotal = 0
  const perCaption = candidates.map((cand, i) => {
    const refs = references[i]!
    const maxRef: Counts = new Map()
    for (const ref of refs) {
      for (const [g, c] of ngramCounts(ref, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c))
    }
    // The reference length closest to the candidate's (the shorter one on a tie).
    const refLen = refs.map((r) => r.length).reduce((best, l) => {
      const d = Math.abs(l - cand.length)
      const db = Math.abs(best - cand.length)
      return d < db || (d === db && l < best) ? l : best
    })
    const g = Array.from({ length: n }, (_, k) => Math.max(cand.length - k, 0))
    const c = Array.from<number>({ length: n }).fill(0)
    for (const [gram, count] of ngramCounts(cand, n)) c[order(gram) - 1]! += Math.min(count, maxRef.get(gram) ?? 0)
    testTotal += cand.length
    refTotal += refLen
    for (let k = 0; k < n; k++) {
      guess[k]! += g[k]!
      correct[k]! += c[k]!
    }
    return scores(c, g, cand.length, refLen)
  })
  function scores(c: number[], g: number[], testLen: number, refLen: number): number[] {
    const out: number[] = []
    let product = 1
    for (let k = 0; k < n; k++) {
      product *= (c[k]! + tiny) / (g[k]! + small)
      out.push(product ** (1 / (k + 1)))
    }
    const ratio = (testLen + tiny) / (refLen + small)
    return ratio < 1 ? out.map((v) => v * Math.exp(1 - 1 / ratio)) : out
  }
  return { corpus: scores(correct, guess, testTotal, refTotal), perCaption }
}

/** Length of the longest common subsequence of two token lists. */
function lcs(a: string[], b: string[]): number {
  let prev = Array.from<number>({ length: b.length + 1 }).fill(0)
  for (const x of a) {
    const row = Array.from<number>({ length: b.length + 1 }).fill(0)
    for (let j = 1; j <= b.length; j++) row[j] = x === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!)
    prev = row
  }
  return prev[b.length]!
}

/** A metric of each candidate and their mean (`rougeL`, `ciderD`). */
export interface MeanScores {
  mean: number
  perCaption: number[]
}

/** ROUGE-L as `pycocoevalcap`'s `Rouge`: precision and recall each maximised over the references, β = 1.2. */
export function rougeL(candidates: string[][], references: string[][][], beta = 1.2): MeanScores {
  checkPairs(candidates, references)
  const perCaption = candidates.map((cand, i) => {
    let precision = 0
    let recall = 0
    for (const ref of references[i]!) {
      const common = lcs(ref, cand)
      precision = Math.max(precision, cand.length ? common / cand.length : 0)
      recall = Math.max(recall, ref.length ? common / ref.length : 0)
    }
    if (precision === 0 || recall === 0) return 0
    return ((1 + beta ** 2) * precision * recall) / (recall + beta ** 2 * precision)
  })
  return { mean: perCaption.reduce((a, v) => a + v, 0) / perCaption.length, perCaption }
}

interface TfIdf {
  /** Per n-gram order: n-gram → tf·idf weight. */
  vec: Map<string, number>[]
  norm: number[]
  /** The length the length penalty compares (see `ciderD`). */
  length: number
}

/**
 * CIDEr-D as `pycocoevalcap`'s `Cider` (which is CIDEr-D): document frequencies over the reference
 * sets of this corpus, idf = log(#candidates) − log(max(1, df)), the candidate's weights clipped by
 * each reference's, cosine per n-gram order times exp(−Δ²/2σ²), averaged over orders and
 * references, ×10. Like the reference implementation, Δ is the difference of the two captions'
 * bigram counts (its `length` sums the counts of order-2 n-grams).
 */
export function ciderD(candidates: string[][], references: string[][][], options: { n?: number; sigma?: number } = {}): MeanScores {
  checkPairs(candidates, references)
  const n = options.n ?? 4
  const sigma = options.sigma ?? 6
  const refCounts = references.map((refs) => refs.map((r) => ngramCounts(r, n)))
  const df: Counts = new Map()
  for (const refs of refCounts) {
    const seen = new Set<string>()
    for (const counts of refs) for (const g of counts.keys()) seen.add(g)
    for (const g of seen) df.set(g, (df.get(g) ?? 0) + 1)
  }
  const logDocs = Math.log(candidates.length)
  const tfidf = (counts: Counts): TfIdf => {
    const vec = Array.from({ length: n }, () => new Map<string, number>())
    const norm = Array.from<number>({ length: n }).fill(0)
    let length = 0
    for (const [g, tf] of counts) {
      const k = order(g) - 1
      const w = tf * (logDocs - Math.log(Math.max(1, df.get(g) ?? 0)))
      vec[k]!.set(g, w)
      norm[k]! += w * w
      if (k === 1) length += tf
    }
    return { vec, norm: norm.map(Math.sqrt), length }
  }
  const perCaption = candidates.map((cand, i) => {
    const hyp = tfidf(ngramCounts(cand, n))
    let total = 0
    for (const counts of refCounts[i]!) {
      const ref = tfidf(counts)
      const delta = hyp.length - ref.length
      const penalty = Math.exp(-(delta * delta) / (2 * sigma * sigma))
      for (let k = 0; k < n; k++) {
        let dot = 0
        for (const [g, w] of hyp.vec[k]!) {
          const r = ref.vec[k]!.get(g) ?? 0
          dot += Math.min(w, r) * r
        }
        if (hyp.norm[k] !== 0 && ref.norm[k] !== 0) dot /= hyp.norm[k]! * ref.norm[k]!
        total += dot * penalty
      }
    }
    return ((total / n) / references[i]!.length) * 10
  })
  return { mean: perCaption.reduce((a, v) => a + v, 0) / perCaption.length, perCaption }
}

/** The COCO caption metrics of a corpus (`scoreCaptions`): BLEU, ROUGE-L, CIDEr-D and METEOR. */
export interface CaptionScores {
  /** Corpus BLEU-4. */
  bleu4: number
  /** Corpus BLEU-1…4. */
  bleu: number[]
  rougeL: number
  ciderD: number
  /** METEOR with Meteor 1.5's exact and stem modules (corpus aggregate; see `meteor.ts`). */
  meteor: number
}

/** BLEU-4, ROUGE-L, CIDEr-D and METEOR (exact + stem) of candidate captions against their reference captions (raw text, tokenised by `tokenizeCaption`). */
export function scoreCaptions(candidates: string[], references: string[][]): CaptionScores {
  const cands = candidates.map(tokenizeCaption)
  const refs = references.map((r) => r.map(tokenizeCaption))
  const b = bleu(cands, refs)
  return { bleu4: b.corpus[3]!, bleu: b.corpus, rougeL: rougeL(cands, refs).mean, ciderD: ciderD(cands, refs).mean, meteor: meteor(cands, refs).corpus }
}
