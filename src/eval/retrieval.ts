/**
 * Text→video retrieval: every query text is scored against every candidate window of a split and
 * the candidates are ranked by the score. A query is a distinct text of the split; its relevant
 * candidates are the windows with that text. Two scorers:
 * - `'match'`: the video-text matching head's probability (`model.scoreMatch`);
 * - `'likelihood'`: the caption's pseudo-log-likelihood given the video — each word masked in turn
 *   and predicted by the masked-language-model head, log-probabilities summed. Words the text alone
 *   predicts score the same for every video; the ranking comes from the words the video decides.
 */
import type { VideoTextDataset, Split, Window } from '../data/dataset.js'
import { VideoBertError } from '../errors.js'
import type { VideoBERT } from '../model.js'

export const RECALL_KS = [1, 5, 10] as const

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

export interface RetrievalOptions {
  /** @default 'match' */
  scorer?: 'match' | 'likelihood'
  /** Use at most this many candidate windows (the first of the split, in order). @default all */
  maxCandidates?: number
  /** Pairs scored per native call. @default 128 */
  batchSize?: number
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

/** Match probabilities of one text against each window. */
async function scoreText(model: VideoBERT, data: VideoTextDataset, text: string, windows: Window[], batchSize: number): Promise<Float32Array> {
  const out = new Float32Array(windows.length)
  for (let start = 0; start < windows.length; start += batchSize) {
    const items = windows.slice(start, start + batchSize).map((w) => ({ w, text, label: 1 }))
    const batch = data.collate(items)
    if (!batch || batch.batchSize !== items.length) throw new VideoBertError('InvalidInput', 'retrieval: some candidate windows could not be read')
    out.set(await model.scoreMatch(batch), start)
  }
  return out
}

/** Sum over the text's word pieces of log P(piece | video, the text with that piece masked), per window. */
async function textLikelihood(model: VideoBERT, data: VideoTextDataset, text: string, windows: Window[], batchSize: number): Promise<Float32Array> {
  const { maskTokenId, maxTextLen, vocabSize } = model.config
  const ids = data.tokenizer.encode(text, maxTextLen)
  const masked = [...ids.keys()].map((i) => {
    const m = ids.slice()
    m[i] = maskTokenId
    return { position: i, text: m }
  })
  const pairs = windows.flatMap((w, wi) => masked.map((m) => ({ wi, w, text: m.text, answer: ids[m.position]!, label: 1 })))
  const out = new Float32Array(windows.length)
  for (let start = 0; start < pairs.length; start += batchSize) {
    const items = pairs.slice(start, start + batchSize)
    const batch = data.collate(items)
    if (!batch || batch.batchSize !== items.length) throw new VideoBertError('InvalidInput', 'retrieval: some candidate windows could not be read')
    for (const p of await model.predictMasked(batch, { topK: vocabSize })) {
      const it = items[p.sample]!
      const k = p.ids.indexOf(it.answer)
      out[it.wi] = out[it.wi]! + Math.log(Math.max(k >= 0 ? p.probs[k]! : 0, 1e-30))
    }
  }
  return out
}

export async function textToVideoRetrieval(model: VideoBERT, data: VideoTextDataset, split: Split, options: RetrievalOptions = {}): Promise<RetrievalMetrics> {
  const windows = data.windows[split].slice(0, options.maxCandidates ?? Infinity)
  const texts = [...new Set(windows.map((w) => w.text).filter((t) => t.length > 0))]
  if (texts.length === 0) throw new VideoBertError('InvalidInput', `retrieval: the ${split} split has no captioned windows`)
  const ranks: number[] = []
  const chance = { 1: 0, 5: 0, 10: 0 }
  for (const text of texts) {
    const score = options.scorer === 'likelihood' ? textLikelihood : scoreText
    const scores = await score(model, data, text, windows, options.batchSize ?? 128)
    const relevant = (i: number) => windows[i]!.text === text
    ranks.push(bestRelevantRank(scores, relevant))
    const m = windows.filter((w) => w.text === text).length
    for (const k of RECALL_KS) chance[k] += chanceRecall(windows.length, m, k) / texts.length
  }
  const recall = { 1: 0, 5: 0, 10: 0 }
  for (const k of RECALL_KS) recall[k] = ranks.filter((r) => r <= k).length / ranks.length
  return { queries: texts.length, candidates: windows.length, recall, chance, medianRank: median(ranks) }
}
