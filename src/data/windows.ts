/**
 * Windows and batches: the one place a video's segments become model input, used by every dataset
 * and every inference path. A window is up to `maxSegments` consecutive segments of one video (the
 * VideoBERT paper's unit of pre-training); `collate` lays windows, with their texts and labels, out
 * as the native `Batch`: region features (or pooled segment features when the model has no
 * regions) standardised and zero-padded, visual-word ids when the model reads them, segment masks.
 */
import type { Batch } from '../batch.js'
import type { VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import { applyFeatureNorm, type FeatureNorm } from './feature-norm.js'

/** Segments `[first, first + count)` of video `video` (an index the caller defines). */
export interface VideoWindow {
  video: number
  first: number
  count: number
}

/** Consecutive windows of at most `maxSegments` segments covering all `numSegments` of a video. */
export function windowsOf(video: number, numSegments: number, maxSegments: number): VideoWindow[] {
  const out: VideoWindow[] = []
  for (let first = 0; first < numSegments; first += maxSegments) out.push({ video, first, count: Math.min(maxSegments, numSegments - first) })
  return out
}

/**
 * The VideoBERT paper's alignment: one window per timed caption, its segments `[a, b]` (those the
 * caption overlaps), cut into pieces of at most `maxSegments` when it is longer; captions without
 * segments give none. `text` is the caption's own.
 */
export function captionWindowsOf(video: number, captions: { segments: [number, number] | null; text: string }[], maxSegments: number): (VideoWindow & { text: string })[] {
  const out: (VideoWindow & { text: string })[] = []
  for (const c of captions) {
    if (!c.segments) continue
    const [a, b] = c.segments
    for (let first = a; first <= b; first += maxSegments) out.push({ video, first, count: Math.min(maxSegments, b + 1 - first), text: c.text })
  }
  return out
}

/** What one row of a batch reads. */
export interface BatchItem {
  window: VideoWindow
  /** The whole video's features: `[S, R, F]` regions when the model has regions, else `[S, F]` pooled. */
  features: Float32Array
  /** The whole video's `[S]` visual-word ids; required when the model's `videoInput` is `'visual_words'`. */
  visualWords?: Uint32Array | null
  /** The row's word-piece ids (cut to `maxTextLen`), `[MASK]`s included. */
  textIds: Uint32Array
  /** 1 = the text belongs to the video, 0 = a matching negative; rows without one read as 1. */
  vtmLabel?: number
}

/** The native batch of `items` (they must be tokenized as `config` expects: regions and feature size). */
export function collate(config: VideoBertConfig, featureNorm: FeatureNorm | null, items: BatchItem[]): Batch {
  const { maxTextLen: L, maxSegments: T, featureDim: F, padTokenId, videoInput } = config
  const R = Math.max(config.numRegions, 1)
  const B = items.length
  const textIds = new Uint32Array(B * L).fill(padTokenId)
  const videoFeatures = new Float32Array(B * T * R * F)
  const videoMask = new Uint8Array(B * T)
  const words = videoInput === 'visual_words' ? new Uint32Array(B * T) : null
  items.forEach((it, b) => {
    const { first, count } = it.window
    textIds.set(it.textIds.subarray(0, L), b * L)
    const dst = videoFeatures.subarray(b * T * R * F, b * T * R * F + count * R * F)
    dst.set(it.features.subarray(first * R * F, (first + count) * R * F))
    if (featureNorm) applyFeatureNorm(dst, featureNorm)
    videoMask.fill(1, b * T, b * T + count)
    if (words) {
      if (!it.visualWords) throw new VideoBertError('InvalidInput', `video ${it.window.video} has no visual words; the model reads them (videoInput 'visual_words'): assign a codebook first (videobert codebook assign)`)
      words.set(it.visualWords.subarray(first, first + count), b * T)
    }
  })
  const batch: Batch = { batchSize: B, textIds, videoFeatures, videoMask }
  if (words) batch.visualWordIds = words
  if (items.some((it) => it.vtmLabel !== undefined)) batch.vtmLabels = Uint8Array.from(items, (it) => it.vtmLabel ?? 1)
  return batch
}
