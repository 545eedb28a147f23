/**
 * Pre-training samples from token shards, as in the VideoBERT paper: a window of T consecutive
 * segments of one video, with the captions that overlap it as its text. Half of the pairs (by
 * default) are video-text-matching negatives whose text comes from another video. Videos are split
 * into train / validation *by video* (seeded), so no clip of a validation video is trained on.
 */
import type { Batch } from '../batch.js'
import type { VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import { rng, shuffle } from '../random.js'
import { takePart, unreadablePart, type DataPart } from '../distributed.js'
import type { TextTokenizer } from '../vocab.js'
import type { TokenShards } from '../shards.js'
import { fitFeatureNorm, type FeatureNorm } from './feature-norm.js'
import { captionWindowsOf, collate, windowsOf, type VideoWindow } from './windows.js'

/** How a `VideoTextDataset` splits, pairs, standardises and treats unreadable videos. */
export interface DatasetOptions {
  /** Fraction held out for validation: of the videos (`split: 'video'`; 1 = all, a test set to evaluate on) or of each video's windows (`split: 'time'`). @default 0.1 */
  validationFraction?: number
  /**
   * How validation is held out: `'video'` keeps whole videos out of training (the honest test of
   * generalisation, needs several videos); `'time'` holds out the last `validationFraction` of each
   * video's windows (for one long video or a few). @default 'video'
   */
  split?: 'video' | 'time'
  /**
   * What a training window is: `'tiles'`, consecutive runs of `maxSegments` segments with the text of
   * every caption they overlap; `'captions'`, one window per caption, its own segments with its own
   * text (the paper's alignment of timed sentences, for subtitled videos; negatives may then come from
   * other times of the same video); `'auto'`, captions for a video with two or more timed captions,
   * tiles otherwise. @default 'auto'
   */
  windows?: 'auto' | 'tiles' | 'captions'
  /** Seeds the split, the negatives and the shuffling. @default 0 */
  seed?: number
  /** Fraction of video-text pairs whose text is taken from another video (label 0). @default 0.5 */
  negatives?: number
  /** What to do with a video whose features cannot be read: skip it (counted) or throw. @default 'skip' */
  badItems?: 'skip' | 'throw'
  /**
   * Per-dimension standardisation of the features: `'fit'` on the training videos, given statistics
   * (a checkpoint's `feature_norm.json`, via `loadFeatureNorm`), or `'none'`. @default 'fit'
   */
  featureNorm?: FeatureNorm | 'fit' | 'none'
}

/** Windows of a video of `n` held out by a time split: its last `fraction`, at least one when it has two or more (and the fraction is not 0), never all of them unless the fraction is 1. */
export function heldOutWindows(n: number, fraction: number): number {
  if (fraction >= 1) return n
  if (fraction <= 0 || n < 2) return 0
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)))
}

/**
 * Why a dataset has no validation windows, in plain words with what to do; null when it has some.
 * (Without them there is no best checkpoint and no early stopping: the last checkpoint is the model.)
 */
export function noValidationNote(data: VideoTextDataset, validationFraction: number): string | null {
  if (data.windows.validation.length > 0) return null
  const n = data.shards.length
  if (data.split === 'time') {
    return `no validation: every video has one window only (its segments fit one window of ${data.config.maxSegments}, or it has one caption), so there is no end to hold out; add videos and use --split video`
  }
  return (
    `no validation: ${n} video${n === 1 ? '' : 's'} with --validation-fraction ${validationFraction} hold${n === 1 ? 's' : ''} out ${Math.round(n * validationFraction)} whole videos. ` +
    `There is no best checkpoint and no early stopping; the last checkpoint is the model. ` +
    (n < 10 ? `For one long video or a few, hold out the end of each with --split time; or add videos, or raise --validation-fraction.` : `Raise --validation-fraction.`)
  )
}

/** One window: a video's segments `[first, first + count)` and its text (see `DatasetOptions.windows`). */
export interface Window extends VideoWindow {
  text: string
}

/** A tile with the text of every caption it overlaps. */
function withText(rec: ReturnType<TokenShards['video']>, w: VideoWindow): Window {
  const text = rec.captions
    .filter((c) => c.segments && c.segments[1] >= w.first && c.segments[0] < w.first + w.count)
    .map((c) => c.text)
    .join(' ')
  return { ...w, text }
}

/** The two parts of a dataset: its videos are split between them by video (seeded). */
export type Split = 'train' | 'validation'

/**
 * Pre-training data over a shard set (see the module notes): the windows of each split with their
 * captions' text, and seeded epochs of batches (`batches`) with video-text matching negatives.
 */
export class VideoTextDataset {
  /** What a model trained on it learns (the Trainer's `TrainingData`). */
  readonly objective = 'pretrain' as const
  readonly windows: Record<Split, Window[]> = { train: [], validation: [] }
  /** Videos in each split (indices into the shards). */
  readonly videos: Record<Split, number[]>
  /** Videos skipped by the `badItems: 'skip'` policy. */
  readonly skipped: { video: number; reason: string }[] = []
  /** The standardisation applied to every batch's features (null: features as stored). */
  readonly featureNorm: FeatureNorm | null
  readonly #opts: Required<Omit<DatasetOptions, 'featureNorm' | 'split' | 'windows'>>
  /** Videos whose windows are their captions (`DatasetOptions.windows`). */
  readonly captionWindowed: Set<number>
  /** How validation was held out (`DatasetOptions.split`). */
  readonly split: 'video' | 'time'

  constructor(
    readonly shards: TokenShards,
    readonly config: VideoBertConfig,
    readonly tokenizer: TextTokenizer,
    options: DatasetOptions = {},
  ) {
    const { validationFraction = 0.1, seed = 0, negatives = 0.5, badItems = 'skip', featureNorm = 'fit', split = 'video', windows = 'auto' } = options
    this.#opts = { validationFraction, seed, negatives, badItems }
    if (split !== 'video' && split !== 'time') throw new VideoBertError('InvalidConfig', `invalid config field \`split\`: 'video' or 'time', got '${String(split)}'`)
    if (!['auto', 'tiles', 'captions'].includes(windows)) throw new VideoBertError('InvalidConfig', `invalid config field \`windows\`: 'auto', 'tiles' or 'captions', got '${String(windows)}'`)
    this.split = split
    const p = shards.params
    if (p.featureDim !== config.featureDim) {
      throw new VideoBertError('InvalidConfig', `shards have feature size ${p.featureDim}, the model config needs featureDim ${config.featureDim}`)
    }
    if (config.numRegions > 0 && shards.numRegions !== config.numRegions) {
      throw new VideoBertError('InvalidConfig', `shards have ${shards.numRegions} regions per segment, the model config needs numRegions ${config.numRegions}`)
    }
    if (!(validationFraction >= 0 && validationFraction <= 1)) {
      throw new VideoBertError('InvalidConfig', `invalid config field \`validationFraction\`: must be in [0, 1], got ${validationFraction}`)
    }
    const all = Array.from({ length: shards.length }, (_, i) => i)
    const timed = (v: number) => shards.video(v).captions.filter((c) => c.segments).length
    this.captionWindowed = new Set(all.filter((v) => windows === 'captions' || (windows === 'auto' && timed(v) >= 2)))
    const windowsOfVideo = (v: number): Window[] => {
      const rec = shards.video(v)
      if (this.captionWindowed.has(v)) return captionWindowsOf(v, rec.captions, config.maxSegments)
      return windowsOf(v, rec.numSegments, config.maxSegments).map((w) => withText(rec, w))
    }
    const order = shuffle([...all], rng(seed ^ 0x51ee7))
    const nVal = Math.round(order.length * validationFraction)
    this.videos =
      split === 'time'
        ? { validation: all.filter((v) => heldOutWindows(windowsOfVideo(v).length, validationFraction) > 0), train: all }
        : { validation: order.slice(0, nVal).sort((a, b) => a - b), train: order.slice(nVal).sort((a, b) => a - b) }
    if (featureNorm === 'fit') {
      if (this.videos.train.length === 0) {
        throw new VideoBertError('InvalidConfig', "invalid config field `featureNorm`: 'fit' needs training videos; pass the checkpoint's statistics (loadFeatureNorm) or 'none'")
      }
      this.featureNorm = fitFeatureNorm(shards, this.videos.train, config.numRegions > 0, (video, err) => {
        if (badItems === 'throw') throw err
        this.skipped.push({ video, reason: (err as Error).message })
      })
    } else if (featureNorm === 'none') {
      this.featureNorm = null
    } else {
      if (featureNorm.mean.length !== config.featureDim) {
        throw new VideoBertError('InvalidConfig', `invalid config field \`featureNorm\`: statistics of ${featureNorm.mean.length} features, the model config needs featureDim ${config.featureDim}`)
      }
      this.featureNorm = featureNorm
    }
    if (split === 'time') {
      for (const v of all) {
        const ws = windowsOfVideo(v)
        const cut = ws.length - heldOutWindows(ws.length, validationFraction)
        ws.forEach((w, i) => this.windows[i < cut ? 'train' : 'validation'].push(w))
      }
    } else {
      for (const part of ['train', 'validation'] as const) {
        for (const v of this.videos[part]) {
          this.windows[part].push(...windowsOfVideo(v))
        }
      }
    }
  }

  /**
   * Batches of one epoch of a split: windows in seeded order (shuffled for 'train'), each paired with
   * its own text (label 1) or, with probability `negatives`, another video's (label 0).
   */
  *batches(split: Split, batchSize: number, epoch = 0, part?: DataPart): Generator<Batch> {
    const windows = this.windows[split]
    const next = rng((this.#opts.seed * 7919 + epoch * 104729 + (split === 'train' ? 1 : 2)) >>> 0)
    const order = split === 'train' ? shuffle(windows, next) : windows
    for (let start = 0; start < order.length; start += batchSize) {
      const items = order.slice(start, start + batchSize).map((w) => {
        let text = w.text
        let label = 1
        if (windows.length > 1 && next() < this.#opts.negatives) {
          let other = windows[Math.floor(next() * windows.length)]!
          for (let tries = 0; !this.#unrelated(w, other) && tries < 10; tries++) other = windows[Math.floor(next() * windows.length)]!
          if (this.#unrelated(w, other)) {
            text = other.text
            label = 0
          }
        }
        return { w, text, label }
      })
      const mine = takePart(items, part)
      if (!mine) continue
      const batch = this.collate(mine)
      if (batch) yield batch
      else if (part) throw unreadablePart(part)
    }
  }

  /**
   * Whether `other`'s text can be `w`'s negative: another video's, or for caption windows another
   * caption of the same video whose segments do not overlap `w`'s.
   */
  #unrelated(w: Window, other: Window): boolean {
    if (other.video !== w.video) return true
    if (!this.captionWindowed.has(w.video) || other.text === w.text) return false
    return other.first >= w.first + w.count || other.first + other.count <= w.first
  }

  /**
   * The native batch of windows paired with texts (a string, or word-piece ids as from
   * `tokenizer.encode`, e.g. with `[MASK]` tokens placed by the caller). Windows whose features
   * cannot be read follow the `badItems` policy; null when none is left.
   */
  collate(items: { w: Window; text: string | Uint32Array; label: number }[]): Batch | null {
    return this.collateKept(items).batch
  }

  /** `collate`, also telling which of the items are in the batch (in order). */
  collateKept<T extends { w: Window; text: string | Uint32Array; label: number }>(items: T[]): { batch: Batch | null; kept: T[] } {
    const L = this.config.maxTextLen
    const kept: T[] = []
    const rows = []
    for (const it of items) {
      try {
        const v = it.w.video
        const features = this.config.numRegions > 0 ? this.shards.regions(v) : this.shards.pooled(v)
        const visualWords = this.config.videoInput === 'visual_words' ? this.shards.visualWords(v) : null
        const textIds = typeof it.text === 'string' ? this.tokenizer.encode(it.text, L) : it.text
        rows.push({ window: it.w, features, visualWords, textIds, vtmLabel: it.label })
        kept.push(it)
      } catch (err) {
        if (this.#opts.badItems === 'throw') throw err
        this.skipped.push({ video: it.w.video, reason: (err as Error).message })
      }
    }
    if (kept.length === 0) return { batch: null, kept }
    return { batch: collate(this.config, this.featureNorm, rows), kept }
  }
}
