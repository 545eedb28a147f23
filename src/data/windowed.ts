/**
 * What the fine-tuning datasets (`LabelledDataset`, `QuestionDataset`, `CaptionDataset`) share: a
 * `VideoTextDataset` over the shards (its split by video, feature standardisation and skipped items;
 * no matching negatives) whose windows each keeps a subset of, and seeded epochs of shuffled items.
 */
import type { VideoBertConfig } from '../config.js'
import { rng, shuffle } from '../random.js'
import type { TextTokenizer } from '../vocab.js'
import type { TokenShards } from '../shards.js'
import { VideoTextDataset, type DatasetOptions, type Split, type Window } from './dataset.js'

export abstract class WindowedDataset {
  /** The windows each split keeps. */
  readonly windows: Record<Split, Window[]> = { train: [], validation: [] }
  protected readonly base: VideoTextDataset
  protected readonly seed: number

  protected constructor(shards: TokenShards, config: VideoBertConfig, tokenizer: TextTokenizer, options: Omit<DatasetOptions, 'negatives' | 'windows'>) {
    // a label or a question belongs to the whole video: its windows are tiles, never captions
    this.base = new VideoTextDataset(shards, config, tokenizer, { ...options, negatives: 0, windows: 'tiles' })
    this.seed = options.seed ?? 0
  }

  get featureNorm() {
    return this.base.featureNorm
  }

  get skipped() {
    return this.base.skipped
  }

  /** Videos of a split with a kept window. */
  videos(split: Split): number[] {
    return [...new Set(this.windows[split].map((w) => w.video))]
  }

  /** `items` in one epoch's order: shuffled (seeded by seed, epoch and `salt`) for training, as given for validation. */
  protected epochOrder<T>(items: T[], split: Split, epoch: number, salt: number): T[] {
    return split === 'train' ? shuffle(items, rng((this.seed * 7919 + epoch * 104729 + salt) >>> 0)) : items
  }
}
