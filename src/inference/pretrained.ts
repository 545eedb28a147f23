/**
 * A pre-trained checkpoint with everything inference needs: the model, its text tokenizer, the
 * feature standardisation and the video-tokenizer settings it was trained with (all written into
 * every checkpoint by the Trainer).
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import { FEATURE_NORM_FILE, applyFeatureNorm, loadFeatureNorm, type FeatureNorm } from '../data/feature-norm.js'
import { configFromJson, type VideoBertConfig } from '../config.js'
import { guardSync, VideoBertError } from '../errors.js'
import { normalizeConfig } from '../native.js'
import { CLASSES_FILE } from '../eval/classification.js'
import { VideoBERT, type CreateOptions } from '../model.js'
import { TextTokenizer, type ShardParams, type TokenShards } from '../shards.js'
import type { TokenizeOptions, TokenizedVideo } from '../tokenizer.js'
import type { Batch } from '../batch.js'

export const VIDEO_TOKENIZER_FILE = 'video_tokenizer.json'

export interface Pretrained {
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
}

/** A checkpoint's config (`config.json`, validated) without loading its weights. */
export function checkpointConfig(dir: string): VideoBertConfig {
  const path = join(dir, 'config.json')
  try {
    return configFromJson(guardSync(() => normalizeConfig(readFileSync(path, 'utf8'))))
  } catch (err) {
    throw new VideoBertError('Checkpoint', `${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** Video-tokenizer options equivalent to a shard set's parameters. */
export function tokenizeOptionsOf(p: ShardParams): TokenizeOptions {
  return {
    fps: p.fps,
    framesPerSegment: p.framesPerSegment,
    stride: p.stride,
    padLast: p.padLast,
    pool: p.pool,
    grid: p.grid,
    featureDim: p.featureDim,
    frameSize: p.frameSize,
    extractor: p.extractor as TokenizeOptions['extractor'],
  }
}

/** Load a checkpoint directory written by the Trainer (or `model.save` plus `tokenizer.json`). */
export async function loadPretrained(dir: string, options: CreateOptions = {}): Promise<Pretrained> {
  const tokenizerPath = join(dir, 'tokenizer.json')
  if (!existsSync(tokenizerPath)) throw new VideoBertError('Checkpoint', `${dir}: no tokenizer.json (inference needs the text vocabulary)`)
  const model = await VideoBERT.load(dir, options)
  const normPath = join(dir, FEATURE_NORM_FILE)
  const videoPath = join(dir, VIDEO_TOKENIZER_FILE)
  let videoTokenizer: TokenizeOptions | null = null
  if (existsSync(videoPath)) {
    try {
      videoTokenizer = JSON.parse(readFileSync(videoPath, 'utf8')) as TokenizeOptions
    } catch (err) {
      throw new VideoBertError('Checkpoint', `${videoPath}: ${(err as Error).message}`, { cause: err })
    }
  }
  const classesPath = join(dir, CLASSES_FILE)
  let classes: string[] | null = null
  let prompt: string | null = null
  if (existsSync(classesPath)) {
    try {
      ;({ classes, prompt = null } = JSON.parse(readFileSync(classesPath, 'utf8')) as { classes: string[]; prompt?: string | null })
    } catch (err) {
      throw new VideoBertError('Checkpoint', `${classesPath}: ${(err as Error).message}`, { cause: err })
    }
    if (!Array.isArray(classes) || classes.length !== model.config.numLabels) {
      throw new VideoBertError('Checkpoint', `${classesPath}: expected ${model.config.numLabels} class names (the model's numLabels)`)
    }
  }
  return {
    model,
    tokenizer: TextTokenizer.load(tokenizerPath),
    featureNorm: existsSync(normPath) ? loadFeatureNorm(normPath) : null,
    videoTokenizer,
    classes,
    prompt,
  }
}

/** What inference reads of a tokenized video: its segment features (from a file or a shard set). */
export type VideoTokens = Pick<TokenizedVideo, 'numSegments' | 'numRegions' | 'featureDim' | 'regions' | 'pooled'>

/** Video `i` of a shard set as `VideoTokens`. */
export function shardVideo(shards: TokenShards, i: number): VideoTokens {
  const rec = shards.video(i)
  return { numSegments: rec.numSegments, numRegions: shards.numRegions, featureDim: shards.params.featureDim, regions: shards.regions(i), pooled: shards.pooled(i) }
}

/**
 * The model's video input for one tokenized video: its first `maxSegments` segments (regions, or
 * pooled segments when the model has none), standardised, padded; with the segment mask.
 */
export function videoInput(p: Pretrained, video: VideoTokens): { features: Float32Array; mask: Uint8Array } {
  const [first] = videoWindows(p, [video])
  const batch = windowBatch(p, [video], [first!])
  return { features: batch.videoFeatures, mask: batch.videoMask }
}

/** A window of one video: segments `[first, first + count)`, at most `maxSegments` of them. */
export interface VideoWindow {
  video: number
  first: number
  count: number
}

/** Consecutive windows covering every segment of every video (errors name the video). */
export function videoWindows(p: Pretrained, videos: VideoTokens[]): VideoWindow[] {
  const { maxSegments: T, numRegions, featureDim: F } = p.model.config
  const out: VideoWindow[] = []
  videos.forEach((v, i) => {
    if (v.numSegments === 0) throw new VideoBertError('InvalidInput', `video ${i} has no segments (shorter than one segment, or no decodable frames)`)
    if (v.featureDim !== F || (numRegions > 0 && v.numRegions !== numRegions)) {
      throw new VideoBertError('InvalidInput', `video ${i} was tokenized with ${v.numRegions} regions × ${v.featureDim} features; the model needs ${numRegions} × ${F}`)
    }
    for (let first = 0; first < v.numSegments; first += T) out.push({ video: i, first, count: Math.min(T, v.numSegments - first) })
  })
  return out
}

/** The batch of some windows: standardised features, segment masks, and `text` (default: empty) in every row. */
export function windowBatch(p: Pretrained, videos: VideoTokens[], windows: VideoWindow[], text: Uint32Array = new Uint32Array(0)): Batch & { videoFeatures: Float32Array; videoMask: Uint8Array } {
  const { maxSegments: T, numRegions, featureDim: F, maxTextLen: L, padTokenId } = p.model.config
  const R = Math.max(numRegions, 1)
  const B = windows.length
  const batch = { batchSize: B, textIds: new Uint32Array(B * L).fill(padTokenId), videoFeatures: new Float32Array(B * T * R * F), videoMask: new Uint8Array(B * T) }
  windows.forEach((w, b) => {
    const src = numRegions > 0 ? videos[w.video]!.regions : videos[w.video]!.pooled
    const dst = batch.videoFeatures.subarray(b * T * R * F, b * T * R * F + w.count * R * F)
    dst.set(src.subarray(w.first * R * F, (w.first + w.count) * R * F))
    if (p.featureNorm) applyFeatureNorm(dst, p.featureNorm)
    batch.videoMask.fill(1, b * T, b * T + w.count)
    batch.textIds.set(text.subarray(0, L), b * L)
  })
  return batch
}
