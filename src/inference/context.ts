/**
 * What the inference functions read of a checkpoint — the model and what its data went through:
 * the text tokenizer, the feature standardisation, the video-tokenizer settings, and a classifier's
 * classes and prompt. A `Pretrained` (the pipeline, `pretrained.ts`) is one; the demo
 * builds one around a model it has just trained. Also: how one tokenized video becomes model input
 * (its windows, through the one `collate`).
 */
import type { Batch } from '../batch.js'
import { VideoBertError } from '../errors.js'
import type { FeatureNorm } from '../data/feature-norm.js'
import { collate, windowsOf, type VideoWindow } from '../data/windows.js'
import type { VideoBERT } from '../model.js'
import type { TextTokenizer } from '../vocab.js'
import type { TokenShards } from '../shards.js'
import type { TokenizeOptions, TokenizedVideo } from '../video-tokenizer.js'

/** A model and what its data went through, as the inference functions read them (see the module notes). */
export interface InferenceContext {
  model: VideoBERT
  tokenizer: TextTokenizer
  /** null when the checkpoint was trained on raw features. */
  featureNorm: FeatureNorm | null
  /** How videos were tokenized for training (use the same for inference); null if not recorded. */
  videoTokenizer: TokenizeOptions | null
  /** Class names of a fine-tuned classifier (`classes.json`); null for a pre-trained model. */
  classes: string[] | null
  /** The prompt a fine-tuned classifier reads with every video; null for none. */
  prompt: string | null
  /**
   * What a fine-tuned model does (`classes.json`'s `task`): 'classify', 'qa' (open answers: the
   * classes are the answers) or 'multiple-choice' (QA by the matching head over given choices; no classes). @default 'classify'
   */
  task?: 'classify' | 'qa' | 'multiple-choice'
}

/** What inference reads of a tokenized video: its segment features (from a file or a shard set). */
export type VideoTokens = Pick<TokenizedVideo, 'numSegments' | 'numRegions' | 'featureDim' | 'regions' | 'pooled'> & {
  /** `[S]` visual-word ids, for a model that reads them. */
  visualWords?: Uint32Array | null
}

/** Video `i` of a shard set as `VideoTokens`. */
export function shardVideo(shards: TokenShards, i: number): VideoTokens {
  const rec = shards.video(i)
  return {
    numSegments: rec.numSegments,
    numRegions: shards.numRegions,
    featureDim: shards.params.featureDim,
    regions: shards.regions(i),
    pooled: shards.pooled(i),
    visualWords: shards.visualWords(i),
  }
}

/** Consecutive windows covering every segment of every video (errors name the video). */
export function videoWindows(p: InferenceContext, videos: VideoTokens[]): VideoWindow[] {
  const { maxSegments: T, numRegions, featureDim: F } = p.model.config
  return videos.flatMap((v, i) => {
    if (v.numSegments === 0) throw new VideoBertError('InvalidInput', `video ${i} has no segments (shorter than one segment, or no decodable frames)`)
    if (v.featureDim !== F || (numRegions > 0 && v.numRegions !== numRegions)) {
      throw new VideoBertError('InvalidInput', `video ${i} was tokenized with ${v.numRegions} regions × ${v.featureDim} features; the model needs ${numRegions} × ${F}`)
    }
    return windowsOf(i, v.numSegments, T)
  })
}

/** The batch of some windows of `videos`, each row reading `text` (default: empty). */
export function windowBatch(p: InferenceContext, videos: VideoTokens[], windows: VideoWindow[], text: Uint32Array = new Uint32Array(0)): Batch & { videoFeatures: Float32Array; videoMask: Uint8Array } {
  const regions = p.model.config.numRegions > 0
  const rows = windows.map((w) => {
    const v = videos[w.video]!
    return { window: w, features: regions ? v.regions : v.pooled, visualWords: v.visualWords, textIds: text }
  })
  return collate(p.model.config, p.featureNorm, rows) as Batch & { videoFeatures: Float32Array; videoMask: Uint8Array }
}

/**
 * The model's video input for one tokenized video: its first window (the first `maxSegments`
 * segments) as one batch row — standardised features and the segment mask.
 */
export function videoInput(p: InferenceContext, video: VideoTokens): { features: Float32Array; mask: Uint8Array; words?: Uint32Array } {
  const [first] = videoWindows(p, [video])
  const batch = windowBatch(p, [video], [first!])
  return { features: batch.videoFeatures, mask: batch.videoMask, ...(batch.visualWordIds && { words: batch.visualWordIds }) }
}
