/**
 * Retrieval over the windows of a split, both directions. Queries are the split's distinct texts
 * (text→video: the relevant candidates are the windows with that text) or its captioned windows
 * (video→text: the candidates are the distinct texts, the relevant one the window's own).
 *
 * Scorers of a (text, window) pair:
 * - `'words'` (fast first stage, one forward pass per window): the window's *word profile* — the
 *   masked-language-model head's distribution at `[MASK]` slots given the video alone, averaged over
 *   the slots — scores a text by the mean log-probability of its word pieces. It is a dot product
 *   of two embeddings: the text's bag of word pieces and the video's log word profile.
 * - `'match'`: the video-text matching head's probability.
 * - `'likelihood'`: the caption's pseudo-log-likelihood given the video — each word piece masked in
 *   turn and predicted by the MLM head, log-probabilities summed (one forward pass per piece per pair).
 * `rerank` re-scores the first stage's top `rerankTop` candidates of every query with `'match'` or
 * `'likelihood'`; the others keep their first-stage order behind them. The default — the words
 * first stage, its top 10 re-scored by likelihood — was chosen on `videobert demo --seeds 0,1,2`
 * (2026-12-07): R@1 0.823 ± 0.038 against 0.792 ± 0.079 for the words scorer alone and
 * 0.826 ± 0.033 for likelihood over every pair (10× the forward passes of the re-ranking at 96 candidates).
 */
import type { VideoTextDataset, Split, Window } from '../data/dataset.js'
import { VideoBertError } from '../errors.js'
import type { VideoBERT } from '../model.js'

/** The k of the recall@k that retrieval reports (`RetrievalMetrics.recall`, `.chance`). */
export const RECALL_KS = [1, 5, 10] as const

/** What retrieval reads of a dataset: its windows with their captions, and how it batches them. */
export type RetrievalSet = Pick<VideoTextDataset, 'windows' | 'collate' | 'tokenizer'>

/** How a (text, window) pair is scored: word profiles, the matching head, or the caption's pseudo-log-likelihood (see the module notes). */
export type Scorer = 'words' | 'match' | 'likelihood'

/** Retrieval figures over the queries of a split: recall@k against its chance value, and the median rank. */
export interface RetrievalMetrics {
  queries: number
  candidates: number
  /** Fraction of queries with a relevant candidate in the top k. */
  recall: Record<(typeof RECALL_KS)[number], number>
  /** The same for a random ranking (exact expectation, given each query's number of relevant candidates). */
  chance: Record<(typeof RECALL_KS)[number], number>
  /** Median over queries of the rank (1 = best) of the best-ranked relevant candidate; ties count against. */
  medianRank: number
}

/** The defaults of `retrieve` (the CLI reads them too). */
export const RETRIEVAL_DEFAULTS = { scorer: 'words', rerank: 'likelihood', rerankTop: 10, batchSize: 128 } as const satisfies Partial<RetrievalOptions>

/** How `retrieve` scores and ranks: the first-stage scorer, the optional re-ranking, the candidate limit, the batch size and custom queries. */
export interface RetrievalOptions {
  /** First-stage scorer, applied to every pair. @default 'words' */
  scorer?: Scorer
  /**
   * Re-score each query's top `rerankTop` first-stage candidates with this scorer; `'none'` keeps
   * the first stage's ranking, and a re-ranking by the first stage's own scorer is skipped.
   * @default 'likelihood'
   */
  rerank?: 'match' | 'likelihood' | 'none'
  /** Candidates re-scored per query. @default 10 */
  rerankTop?: number
  /** Use at most this many candidate windows (the first of the split, in order). @default all */
  maxCandidates?: number
  /** Pairs scored per native call. @default 128 */
  batchSize?: number
  /**
   * Text→video only: rank the windows for these texts instead of the split's captions (a window is
   * relevant when its caption equals the text).
   */
  queries?: string[]
  /** Called after each query with the queries done so far. */
  onProgress?: (done: number, total: number) => void
}

/** One query's candidates in ranked order, with their scores. */
export interface RankedList {
  /** Candidate indices (windows for text→video, texts for video→text), best first. */
  order: number[]
  /** The score each has in `order` (re-ranked candidates: the re-ranking score). */
  scores: number[]
}

/** P(at least one of m relevant items in the top k of a random ranking of n). */
export function chanceRecall(n: number, m: number, k: number): number {
  let missAll = 1 // C(n − m, k) / C(n, k) as a product
  for (let i = 0; i < Math.min(k, n); i++) missAll *= Math.max(0, n - m - i) / (n - i)
  return 1 - missAll
}

/** The rank (1-based) of the best relevant item: 1 + the irrelevant items scoring at least as high. */
export function bestRelevantRank(scores: ArrayLike<number>, relevant: (i: number) => boolean): number {
  let best = -Infinity
  for (let i = 0; i < scores.length; i++) if (relevant(i)) best = Math.max(best, scores[i]!)
  let rank = 1
  for (let i = 0; i < scores.length; i++) if (!relevant(i) && scores[i]! >= best) rank++
  return rank
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b)
  const h = Math.floor(s.length / 2)
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2
}

function collateAll<T extends { w: Window; text: string | Uint32Array; label: number }>(data: RetrievalSet, items: T[]) {
  const batch = data.collate(items)
  if (!batch || batch.batchSize !== items.length) throw new VideoBertError('InvalidInput', 'retrieval: some candidate windows could not be read')
  return batch
}

/** Match probabilities of (window, text) pairs. */
export async function matchScores(model: VideoBERT, data: RetrievalSet, pairs: { w: Window; text: string }[], batchSize: number): Promise<Float32Array> {
  const out = new Float32Array(pairs.length)
  for (let start = 0; start < pairs.length; start += batchSize) {
    const items = pairs.slice(start, start + batchSize).map((p) => ({ ...p, label: 1 }))
    out.set(await model.scoreMatch(collateAll(data, items)), start)
  }
  return out
}

/**
 * Sum over each pair's word pieces of log P(piece | video, the text with that piece masked): one
 * `[MASK]` per item, and only the answer's log-probability comes back (`maskLogProbs`).
 */
export async function likelihoods(model: VideoBERT, data: RetrievalSet, pairs: { w: Window; text: string }[], batchSize: number): Promise<Float32Array> {
  const { maskTokenId, maxTextLen } = model.config
  const masked = pairs.flatMap((p, pi) => {
    const ids = data.tokenizer.encode(p.text, maxTextLen)
    return [...ids.keys()].map((i) => {
      const text = ids.slice()
      text[i] = maskTokenId
      return { pi, w: p.w, text, answer: ids[i]!, label: 1 }
    })
  })
  const out = new Float32Array(pairs.length)
  for (let start = 0; start < masked.length; start += batchSize) {
    const items = masked.slice(start, start + batchSize)
    const logProbs = await model.maskLogProbs(collateAll(data, items), Uint32Array.from(items, (it) => it.answer))
    items.forEach((it, m) => {
      out[it.pi] = out[it.pi]! + logProbs[m]!
    })
  }
  return out
}

/**
 * Word profiles `[windows, V]`: log of the MLM distribution at `slots` `[MASK]` tokens given the
 * video alone, averaged over the slots.
 */
export async function wordProfiles(model: VideoBERT, data: RetrievalSet, windows: Window[], slots: number, batchSize = 128): Promise<Float32Array[]> {
  const { maskTokenId, vocabSize, maxTextLen } = model.config
  const text = new Uint32Array(Math.max(1, Math.min(slots, maxTextLen))).fill(maskTokenId)
  const out = windows.map(() => new Float32Array(vocabSize))
  for (let start = 0; start < windows.length; start += batchSize) {
    const items = windows.slice(start, start + batchSize).map((w, i) => ({ w, text, label: 1, i: start + i }))
    for (const pr of await model.predictMasked(collateAll(data, items), { topK: vocabSize })) {
      const row = out[items[pr.sample]!.i]!
      for (let k = 0; k < pr.ids.length; k++) row[pr.ids[k]!] = row[pr.ids[k]!]! + pr.probs[k]! / text.length
    }
  }
  for (const row of out) for (let k = 0; k < row.length; k++) row[k] = Math.log(Math.max(row[k]!, 1e-30))
  return out
}

/** `'words'` scores of every text against every profile: `[texts][windows]`. */
export function wordScores(data: RetrievalSet, texts: string[], profiles: Float32Array[], maxTextLen: number): Float32Array[] {
  return texts.map((t) => {
    const ids = data.tokenizer.encode(t, maxTextLen)
    const s = new Float32Array(profiles.length)
    profiles.forEach((row, j) => {
      let sum = 0
      for (const id of ids) sum += row[id]!
      s[j] = ids.length ? sum / ids.length : 0
    })
    return s
  })
}

/** The median length in word pieces of the texts (the number of `[MASK]` slots of the word profiles). */
export function typicalLength(data: RetrievalSet, texts: string[], maxTextLen: number): number {
  return Math.round(median(texts.map((t) => data.tokenizer.encode(t, maxTextLen).length)))
}

/** Which way retrieval goes: texts as queries ranking windows, or windows ranking texts. */
export type Direction = 'text-to-video' | 'video-to-text'

/** What `retrieve` returns: the metrics, every query's ranking and rank, and the texts and windows the indices point into. */
export interface RetrievalResult extends RetrievalMetrics {
  direction: Direction
  /** Per query: its text (text→video) or window index (video→text), and the ranked candidates. */
  rankings: { query: number; ranked: RankedList; rank: number }[]
  /** The split's distinct texts (queries of text→video, candidates of video→text). */
  texts: string[]
  windows: Window[]
}

/**
 * Rank the candidates of every query; metrics against the split's own captions. `rerank` re-scores the
 * top `rerankTop` of the first stage; with `rerankTop ≥ candidates` it ranks everything by the
 * re-ranking scorer alone.
 */
export async function retrieve(model: VideoBERT, data: RetrievalSet, split: Split, direction: Direction, options: RetrievalOptions = {}): Promise<RetrievalResult> {
  const { maxTextLen } = model.config
  const batchSize = options.batchSize ?? RETRIEVAL_DEFAULTS.batchSize
  const scorer = options.scorer ?? RETRIEVAL_DEFAULTS.scorer
  const rerankTop = options.rerankTop ?? RETRIEVAL_DEFAULTS.rerankTop
  const requested = options.rerank ?? RETRIEVAL_DEFAULTS.rerank
  const rerank = requested === 'none' || requested === scorer ? undefined : requested
  if (!Number.isInteger(rerankTop) || rerankTop <= 0) throw new VideoBertError('InvalidInput', `invalid input \`rerankTop\`: must be a positive integer, got ${rerankTop}`)
  const windows = data.windows[split].slice(0, options.maxCandidates ?? Infinity)
  const t2v = direction === 'text-to-video'
  if (options.queries && !t2v) throw new VideoBertError('InvalidInput', 'invalid input `queries`: custom queries are texts (text-to-video only)')
  if (options.queries && options.queries.some((q) => q.trim() === '')) throw new VideoBertError('InvalidInput', 'invalid input `queries`: an empty text')
  if (windows.length === 0) throw new VideoBertError('InvalidInput', `retrieval: the ${split} split has no windows`)
  const texts = options.queries ? [...options.queries] : [...new Set(windows.map((w) => w.text).filter((t) => t.length > 0))]
  if (texts.length === 0) throw new VideoBertError('InvalidInput', `retrieval: the ${split} split has no captioned windows`)
  const queries = t2v ? texts.map((_, i) => i) : windows.map((w, i) => (w.text ? i : -1)).filter((i) => i >= 0)
  const nCandidates = t2v ? windows.length : texts.length
  const pairOf = (q: number, c: number) => (t2v ? { w: windows[c]!, text: texts[q]! } : { w: windows[q]!, text: texts[c]! })
  const relevantTo = (q: number) => (t2v ? (c: number) => windows[c]!.text === texts[q] : (c: number) => texts[c] === windows[q]!.text)

  // First stage: every (query, candidate) pair.
  let first: Float32Array[]
  if (scorer === 'words') {
    const profiles = await wordProfiles(model, data, windows, typicalLength(data, texts, maxTextLen), batchSize)
    const byText = wordScores(data, texts, profiles, maxTextLen) // [text][window]
    first = queries.map((q) => (t2v ? byText[q]! : Float32Array.from(texts, (_, c) => byText[c]![q]!)))
  } else {
    const score = scorer === 'match' ? matchScores : likelihoods
    first = []
    for (const q of queries) first.push(await score(model, data, Array.from({ length: nCandidates }, (_, c) => pairOf(q, c)), batchSize))
  }

  const rankings: RetrievalResult['rankings'] = []
  const chance = { 1: 0, 5: 0, 10: 0 }
  for (const [qi, q] of queries.entries()) {
    const s1 = first[qi]!
    const order = [...s1.keys()].sort((a, b) => s1[b]! - s1[a]! || a - b)
    const relevant = relevantTo(q)
    let ranked: RankedList = { order, scores: order.map((c) => s1[c]!) }
    let rank = bestRelevantRank(s1, relevant)
    if (rerank) {
      const top = order.slice(0, rerankTop)
      const rest = order.slice(rerankTop)
      const score = rerank === 'match' ? matchScores : likelihoods
      const s2 = await score(model, data, top.map((c) => pairOf(q, c)), batchSize)
      const reordered = [...top.keys()].sort((a, b) => s2[b]! - s2[a]! || a - b)
      ranked = { order: [...reordered.map((i) => top[i]!), ...rest], scores: [...reordered.map((i) => s2[i]!), ...rest.map((c) => s1[c]!)] }
      rank = top.some(relevant)
        ? bestRelevantRank(s2, (i) => relevant(top[i]!))
        : top.length + bestRelevantRank(Float32Array.from(rest, (c) => s1[c]!), (i) => relevant(rest[i]!))
    }
    rankings.push({ query: q, ranked, rank })
    const m = Array.from({ length: nCandidates }, (_, c) => c).filter(relevant).length
    for (const k of RECALL_KS) chance[k] += chanceRecall(nCandidates, m, k) / queries.length
    options.onProgress?.(qi + 1, queries.length)
  }
  const ranks = rankings.map((r) => r.rank)
  const recall = { 1: 0, 5: 0, 10: 0 }
  for (const k of RECALL_KS) recall[k] = ranks.filter((r) => r <= k).length / ranks.length
  return { direction, queries: queries.length, candidates: nCandidates, recall, chance, medianRank: median(ranks), rankings, texts, windows }
}

/** Text→video retrieval metrics (what the demo reports). */
export async function textToVideoRetrieval(model: VideoBERT, data: RetrievalSet, split: Split, options: RetrievalOptions = {}): Promise<RetrievalMetrics> {
  const { queries, candidates, recall, chance, medianRank } = await retrieve(model, data, split, 'text-to-video', options)
  return { queries, candidates, recall, chance, medianRank }
}
