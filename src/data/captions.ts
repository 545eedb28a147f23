/**
 * Supervised captioning data: every captioned window of a video (the captions that overlap it, as
 * in pre-training) becomes one sample whose encoder input is the window's video alone (an empty
 * text) and whose decoder target is the caption's word pieces (cut to `maxTextLen`). Videos are
 * split into train / validation by video, as for pre-training.
 */
import { takePart, unreadablePart, type DataPart } from '../distributed.js'
import type { Batch } from '../batch.js'
import type { VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import type { TextTokenizer } from '../vocab.js'
import type { TokenShards } from '../shards.js'
import type { DatasetOptions, Split, Window } from './dataset.js'
import { WindowedDataset } from './windowed.js'

/** The captioned windows of each split (`windows`; windows without a caption are left out). */
export class CaptionDataset extends WindowedDataset {
  /** What a model trained on it learns (the Trainer's `TrainingData`): a caption decoder. */
  readonly objective = 'caption' as const
  readonly #tokenizer: TextTokenizer

  constructor(
    readonly shards: TokenShards,
    readonly config: VideoBertConfig,
    tokenizer: TextTokenizer,
    options: Omit<DatasetOptions, 'negatives'> = {},
  ) {
    super(shards, config, tokenizer, options)
    this.#tokenizer = tokenizer
    for (const split of ['train', 'validation'] as const) {
      this.windows[split] = this.base.windows[split].filter((w) => tokenizer.encode(w.text, config.maxTextLen).length > 0)
    }
    if (this.windows.train.length === 0) {
      throw new VideoBertError('InvalidInput', "no captioned training window: the training split is empty, or no manifest record of it has `captions` (the decoder's targets)")
    }
  }

  /** Batches of one epoch (training windows shuffled, seeded by epoch). */
  *batches(split: Split, batchSize: number, epoch = 0, part?: DataPart): Generator<Batch> {
    const order = this.epochOrder(this.windows[split], split, epoch, 11)
    for (let start = 0; start < order.length; start += batchSize) {
      const mine = takePart(order.slice(start, start + batchSize), part)
      if (!mine) continue
      const batch = this.collate(mine)
      if (batch) yield batch
      else if (part) throw unreadablePart(part)
    }
  }

  /** The batch of some windows: the video with an empty text, the caption as `captionIds`; null when none could be read. */
  collate(windows: Window[]): Batch | null {
    const L = this.config.maxTextLen
    const empty = new Uint32Array(0)
    const { batch, kept } = this.base.collateKept(windows.map((w) => ({ w, text: empty, label: 1 })))
    if (!batch) return null
    const captionIds = new Uint32Array(kept.length * L).fill(this.config.padTokenId)
    kept.forEach((it, i) => captionIds.set(this.#tokenizer.encode(it.w.text, L), i * L))
    delete batch.vtmLabels
    batch.captionIds = captionIds
    return batch
  }
}
