/**
 * Embeddings from a checkpoint: the encoder's outputs for a video alone (empty text) or a text alone
 * (no segments). A video longer than `maxSegments` segments is read in consecutive windows; its
 * pooled embedding is the segment-weighted mean of the windows', its segment embeddings are
 * concatenated.
 */
import type { Embeddings } from '../model.js'
import { VideoBertError } from '../errors.js'
import { videoWindows, windowBatch, type InferenceContext, type VideoTokens } from './context.js'

/** A video's embeddings (`embedVideos`): pooled, `[CLS]` and per segment, all of width H = hiddenSize. */
export interface VideoEmbedding {
  /** `[H]` mean of the segment outputs (the video embedding). */
  pooled: Float32Array
  /** `[H]` the `[CLS]` output (mean over windows). */
  cls: Float32Array
  /** `[S, H]` one row per segment of the video. */
  segments: Float32Array
  numSegments: number
}

/** What the options of `embedVideos` / `embedTexts` are when left out. */
export const EMBED_DEFAULTS = { batchSize: 32 }

/** Options of `embedVideos` / `embedTexts`. */
export interface EmbedOptions {
  /** Windows (or texts) per native call. @default 32 */
  batchSize?: number
  /** Called after each native call with the items done so far. */
  onProgress?: (done: number, total: number) => void
}

/** Embeddings of tokenized videos (video only: the text is empty). */
export async function embedVideos(p: InferenceContext, videos: VideoTokens[], options: EmbedOptions = {}): Promise<VideoEmbedding[]> {
  const { maxSegments: T, hiddenSize: H } = p.model.config
  const refs = videoWindows(p, videos)
  const out: VideoEmbedding[] = videos.map((v) => ({ pooled: new Float32Array(H), cls: new Float32Array(H), segments: new Float32Array(v.numSegments * H), numSegments: v.numSegments }))
  const windowsOf = videos.map((_, i) => refs.filter((r) => r.video === i).length)
  const batchSize = options.batchSize ?? EMBED_DEFAULTS.batchSize
  for (let start = 0; start < refs.length; start += batchSize) {
    const chunk = refs.slice(start, start + batchSize)
    const e: Embeddings = await p.model.embed(windowBatch(p, videos, chunk))
    chunk.forEach((r, b) => {
      const o = out[r.video]!
      const weight = r.count / o.numSegments
      for (let k = 0; k < H; k++) {
        o.pooled[k] = o.pooled[k]! + e.video[b * H + k]! * weight
        o.cls[k] = o.cls[k]! + e.cls[b * H + k]! / windowsOf[r.video]!
      }
      o.segments.set(e.segments.subarray(b * T * H, (b * T + r.count) * H), r.first * H)
    })
    options.onProgress?.(Math.min(start + chunk.length, refs.length), refs.length)
  }
  return out
}

/** Embeddings of texts alone (no video): the mean of the text-token outputs, `[H]` each. */
export async function embedTexts(p: InferenceContext, texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
  const { maxSegments: T, numRegions, featureDim: F, maxTextLen: L, padTokenId, hiddenSize: H } = p.model.config
  const R = Math.max(numRegions, 1)
  const batchSize = options.batchSize ?? EMBED_DEFAULTS.batchSize
  const out: Float32Array[] = []
  for (let start = 0; start < texts.length; start += batchSize) {
    const chunk = texts.slice(start, start + batchSize)
    const B = chunk.length
    const textIds = new Uint32Array(B * L).fill(padTokenId)
    chunk.forEach((t, b) => {
      const ids = p.tokenizer.encode(t, L)
      if (ids.length === 0) throw new VideoBertError('InvalidInput', `text ${start + b} is empty`)
      textIds.set(ids, b * L)
    })
    // No video: every segment is padding (a visual-word model still gets its, unread, word ids).
    const words = p.model.config.videoInput === 'visual_words' ? { visualWordIds: new Uint32Array(B * T) } : {}
    const e = await p.model.embed({ batchSize: B, textIds, videoFeatures: new Float32Array(B * T * R * F), videoMask: new Uint8Array(B * T), ...words })
    for (let b = 0; b < B; b++) out.push(e.text.slice(b * H, (b + 1) * H))
    options.onProgress?.(start + B, texts.length)
  }
  return out
}
