/**
 * Finding the moment: where in a long video a text is said or shown. Each video is cut into
 * moments — `windowSegments` consecutive segments, moved by `strideSegments` — and every moment is
 * scored against the query the way retrieval scores a window (`eval/retrieval.ts`): the fast
 * word-profile scorer (one forward pass per moment, whatever the number of queries), optionally
 * re-ranked by the matching head or the caption likelihood. A result is (video, start, end, score).
 *
 * `evaluateMoments` measures it on captioned videos: each caption's own text is a query over its
 * video's moments, and a moment is right when it contains the caption's midpoint; R@k is reported
 * beside its chance value (the fraction of the video's moments that are right).
 */
import type { Batch } from '../batch.js'
import type { Window } from '../data/dataset.js'
import { collate } from '../data/windows.js'
import { VideoBertError } from '../errors.js'
import { chanceRecall, likelihoods, matchScores, wordProfiles, wordScores, typicalLength, type RetrievalSet } from '../eval/retrieval.js'
import type { TokenShards } from '../shards.js'
import { shardVideo, type InferenceContext, type VideoTokens } from './context.js'

/** A tokenized video with its segments' times (a `TokenizedVideo`, or a shard set's video). */
export type TimedTokens = VideoTokens & {
  /** `[S]` segment start / end seconds. */
  starts: ArrayLike<number>
  ends: ArrayLike<number>
}

/** What the options of `retrieveMoments` are when left out. */
export const MOMENT_DEFAULTS = { windowSegments: 4, top: 5, rerank: 'match', rerankTop: 10, batchSize: 128 } as const

/** How videos are cut into moments and how moments are ranked. */
export interface MomentOptions {
  /** Segments per moment (capped at the model's `maxSegments`). @default 4 */
  windowSegments?: number
  /** Segments between moment starts. @default half of `windowSegments`, rounded up */
  strideSegments?: number
  /** Moments returned per query. @default 5 */
  top?: number
  /**
   * Re-score each query's top `rerankTop` moments with the matching head, the caption likelihood, or
   * not. The matching head is the default: the words scorer alone tells a video's moments apart
   * poorly (on the real clips of docs/subtitles.md it is near chance), the head was trained on
   * exactly this — a caption against other times of its video. @default 'match'
   */
  rerank?: 'match' | 'likelihood' | 'none'
  /** @default 10 */
  rerankTop?: number
  /** Moments per native call. @default 128 */
  batchSize?: number
}

/** One found moment: the video (its index in the list given), its time span, its segments and its score. */
export interface Moment {
  video: number
  /** Seconds from the video's first frame. */
  start: number
  end: number
  /** Segments `[first, first + count)` of the video. */
  first: number
  count: number
  /** The scorer's value (higher is better; re-ranked moments: the re-ranking score). */
  score: number
}

function check(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new VideoBertError('InvalidInput', `invalid input \`${name}\`: must be an integer ≥ ${min}, got ${v}`)
}

/** The moments of `videos` (every segment in at least one; the last moment of a video ends at its end). */
export function momentsOf(videos: TimedTokens[], windowSegments: number, strideSegments: number): Window[] {
  const out: Window[] = []
  videos.forEach((v, video) => {
    const n = v.numSegments
    if (n === 0) return
    const count = Math.min(windowSegments, n)
    for (let first = 0; ; first += strideSegments) {
      const start = Math.min(first, n - count)
      out.push({ video, first: start, count, text: '' })
      if (start + count >= n) break
    }
  })
  return out
}

/** A `RetrievalSet` over moments of in-memory videos: the batches retrieval's scorers read. */
function momentSet(p: InferenceContext, videos: TimedTokens[], moments: Window[]): RetrievalSet {
  const regions = p.model.config.numRegions > 0
  return {
    windows: { train: [], validation: moments },
    tokenizer: p.tokenizer,
    collate(items: { w: Window; text: string | Uint32Array; label: number }[]): Batch | null {
      const rows = items.map((it) => {
        const v = videos[it.w.video]!
        const textIds = typeof it.text === 'string' ? p.tokenizer.encode(it.text, p.model.config.maxTextLen) : it.text
        return { window: it.w, features: regions ? v.regions : v.pooled, visualWords: v.visualWords, textIds, vtmLabel: it.label }
      })
      return rows.length ? collate(p.model.config, p.featureNorm, rows) : null
    },
  }
}

function resolve(p: InferenceContext, videos: TimedTokens[], options: MomentOptions) {
  check('windowSegments', options.windowSegments, 1)
  check('strideSegments', options.strideSegments, 1)
  check('top', options.top, 1)
  check('rerankTop', options.rerankTop, 1)
  rerankOf(options)
  const { maxSegments, featureDim, numRegions } = p.model.config
  videos.forEach((v, i) => {
    if (v.featureDim !== featureDim || (numRegions > 0 && v.numRegions !== numRegions)) {
      throw new VideoBertError('InvalidInput', `video ${i} was tokenized with ${v.numRegions} regions × ${v.featureDim} features; the model needs ${numRegions} × ${featureDim}`)
    }
  })
  const windowSegments = Math.min(options.windowSegments ?? MOMENT_DEFAULTS.windowSegments, maxSegments)
  const strideSegments = options.strideSegments ?? Math.ceil(windowSegments / 2)
  const moments = momentsOf(videos, windowSegments, strideSegments)
  if (moments.length === 0) throw new VideoBertError('InvalidInput', 'moments: no video has a segment')
  return { moments, set: momentSet(p, videos, moments), batchSize: options.batchSize ?? MOMENT_DEFAULTS.batchSize }
}

function toMoment(videos: TimedTokens[], w: Window, score: number): Moment {
  const v = videos[w.video]!
  return { video: w.video, start: v.starts[w.first]!, end: v.ends[w.first + w.count - 1]!, first: w.first, count: w.count, score }
}

/** The re-ranking scorer `options` ask for, or null for none. */
function rerankOf(options: MomentOptions): 'match' | 'likelihood' | null {
  const r = options.rerank ?? MOMENT_DEFAULTS.rerank
  if (r !== 'match' && r !== 'likelihood' && r !== 'none') throw new VideoBertError('InvalidInput', `invalid input \`rerank\`: 'match', 'likelihood' or 'none', got '${String(r)}'`)
  return r === 'none' ? null : r
}

/** `order` (candidate indices, best first) re-ranked in its top `k` by a second scorer. */
async function rerankTop(p: InferenceContext, set: RetrievalSet, moments: Window[], query: string, order: number[], scores: Float32Array, options: MomentOptions, batchSize: number) {
  const k = options.rerankTop ?? MOMENT_DEFAULTS.rerankTop
  const top = order.slice(0, k)
  const score = rerankOf(options) === 'likelihood' ? likelihoods : matchScores
  const s2 = await score(p.model, set, top.map((c) => ({ w: moments[c]!, text: query })), batchSize)
  const reordered = [...top.keys()].sort((a, b) => s2[b]! - s2[a]! || a - b)
  return { order: [...reordered.map((i) => top[i]!), ...order.slice(k)], scores: [...reordered.map((i) => s2[i]!), ...order.slice(k).map((c) => scores[c]!)] }
}

/**
 * The best moments of `videos` for each query (see the module notes), best first. Videos are
 * `TokenizedVideo`s (`VideoTokenizer.tokenizeFile`, tokenized as the checkpoint's data was) or a
 * shard set's videos (`shardMoments`).
 */
export async function retrieveMoments(p: InferenceContext, queries: string[], videos: TimedTokens[], options: MomentOptions = {}): Promise<{ query: string; moments: Moment[] }[]> {
  if (queries.length === 0 || queries.some((q) => q.trim() === '')) throw new VideoBertError('InvalidInput', 'invalid input `queries`: give one or more non-empty texts')
  const { moments, set, batchSize } = resolve(p, videos, options)
  const { maxTextLen } = p.model.config
  const profiles = await wordProfiles(p.model, set, moments, typicalLength(set, queries, maxTextLen), batchSize)
  const byQuery = wordScores(set, queries, profiles, maxTextLen)
  const top = options.top ?? MOMENT_DEFAULTS.top
  const out = []
  for (const [qi, query] of queries.entries()) {
    const s = byQuery[qi]!
    let ranked = { order: [...s.keys()].sort((a, b) => s[b]! - s[a]! || a - b), scores: [] as number[] }
    ranked.scores = ranked.order.map((c) => s[c]!)
    if (rerankOf(options)) ranked = await rerankTop(p, set, moments, query, ranked.order, s, options, batchSize)
    out.push({ query, moments: ranked.order.slice(0, top).map((c, i) => toMoment(videos, moments[c]!, ranked.scores[i]!)) })
  }
  return out
}

/** Video `i` of a shard set with its segment times (for `retrieveMoments`). */
export function shardMoments(shards: TokenShards, i: number): TimedTokens {
  const segments = shards.video(i).segments
  return { ...shardVideo(shards, i), starts: segments.map((s) => s[0]), ends: segments.map((s) => s[1]) }
}

/**
 * The segments of `video` that overlap `[start, end)` seconds (for fill-mask or captioning of a time
 * range); an `InvalidInput` error when none does.
 */
export function timeRange(video: TimedTokens, start = 0, end = Infinity): TimedTokens {
  if (!(start >= 0) || !(end > start)) throw new VideoBertError('InvalidInput', `invalid input \`start\`/\`end\`: need 0 <= start < end, got ${start}..${end}`)
  const keep: number[] = []
  for (let s = 0; s < video.numSegments; s++) if (video.starts[s]! < end && video.ends[s]! > start) keep.push(s)
  if (keep.length === 0) {
    const last = video.numSegments > 0 ? video.ends[video.numSegments - 1]! : 0
    throw new VideoBertError('InvalidInput', `no segment of the video overlaps ${start}..${end} s (its segments cover 0..${last.toFixed(2)} s)`)
  }
  const [a, b] = [keep[0]!, keep[keep.length - 1]! + 1]
  const R = Math.max(video.numRegions, 1)
  const F = video.featureDim
  return {
    numSegments: b - a,
    numRegions: video.numRegions,
    featureDim: F,
    regions: video.regions.subarray(a * R * F, b * R * F),
    pooled: video.pooled.subarray(a * F, b * F),
    visualWords: video.visualWords ? video.visualWords.subarray(a, b) : video.visualWords,
    starts: Array.from({ length: b - a }, (_, i) => video.starts[a + i]!),
    ends: Array.from({ length: b - a }, (_, i) => video.ends[a + i]!),
  }
}

/** Moment-retrieval figures: each caption's text as a query over its own video's moments. */
export interface MomentMetrics {
  /** Captions used as queries (those whose midpoint falls in a moment of a video with two or more moments). */
  queries: number
  /** Mean moments per video searched. */
  momentsPerVideo: number
  /** Fraction of queries whose top-k moments contain the caption's midpoint. */
  recall: { 1: number; 5: number }
  /** The same for a random ranking of the video's moments. */
  chance: { 1: number; 5: number }
}

/**
 * Moment retrieval on captioned videos (see the module notes): `videos[i].captions` are the
 * ground truth (seconds and text, as in a shard set's records).
 */
export async function evaluateMoments(p: InferenceContext, videos: (TimedTokens & { captions: { start: number; end: number; text: string }[] })[], options: MomentOptions = {}): Promise<MomentMetrics> {
  const { moments, set, batchSize } = resolve(p, videos, options)
  const { maxTextLen } = p.model.config
  const captions = videos.flatMap((v, video) => v.captions.filter((c) => c.text.trim() !== '').map((c) => ({ video, mid: (c.start + c.end) / 2, text: c.text })))
  if (captions.length === 0) throw new VideoBertError('InvalidInput', 'moments: no video has captions to evaluate with')
  const profiles = await wordProfiles(p.model, set, moments, typicalLength(set, captions.map((c) => c.text), maxTextLen), batchSize)
  const byVideo = new Map<number, number[]>()
  moments.forEach((m, i) => byVideo.set(m.video, [...(byVideo.get(m.video) ?? []), i]))
  const hits = { 1: 0, 5: 0 }
  const chance = { 1: 0, 5: 0 }
  let queries = 0
  let searched = 0
  for (const c of captions) {
    const own = byVideo.get(c.video) ?? []
    if (own.length < 2) continue
    const isRight = own.map((i) => {
      const m = toMoment(videos, moments[i]!, 0)
      return m.start <= c.mid && c.mid < m.end
    })
    const right = isRight.filter(Boolean).length
    if (right === 0) continue
    const [s] = wordScores(set, [c.text], own.map((i) => profiles[i]!), maxTextLen)
    let order = [...own.keys()].sort((a, b) => s![b]! - s![a]! || a - b)
    if (rerankOf(options)) order = (await rerankTop(p, set, own.map((i) => moments[i]!), c.text, order, s!, options, batchSize)).order
    queries++
    searched += own.length
    for (const k of [1, 5] as const) {
      if (order.slice(0, k).some((j) => isRight[j])) hits[k]++
      chance[k] += chanceRecall(own.length, right, k)
    }
  }
  if (queries === 0) throw new VideoBertError('InvalidInput', 'moments: no caption falls in a video long enough for two moments')
  return { queries, momentsPerVideo: searched / queries, recall: { 1: hits[1] / queries, 5: hits[5] / queries }, chance: { 1: chance[1] / queries, 5: chance[5] / queries } }
}
