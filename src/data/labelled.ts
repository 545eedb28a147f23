/**
 * Labelled videos for fine-tuning a classifier: every window of a labelled video is one sample whose
 * class is the video's label. The model sees the video and, optionally, a fixed prompt — never the
 * caption (it could name the answer). Splits, feature standardisation and unreadable items work as in `VideoTextDataset`.
 */
import { takePart, unreadablePart, type DataPart } from '../distributed.js'
import { readFileSync } from 'node:fs'

import type { Batch } from '../batch.js'
import type { VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import { rng, shuffle } from '../random.js'
import type { TextTokenizer } from '../vocab.js'
import type { TokenShards, VideoRecord } from '../shards.js'
import type { DatasetOptions, Split, Window } from './dataset.js'
import { encodePromptWith } from './prompt.js'
import { WindowedDataset } from './windowed.js'

/** Where a video's label comes from: a key of the manifest's `label` object, or a map video id → label. */
export type LabelSource = string | Map<string, string>

/** Where a `LabelledDataset`'s labels come from, its classes, the share of training labels used and the prompt; the rest as `DatasetOptions`. */
export interface LabelledDatasetOptions extends Omit<DatasetOptions, 'negatives' | 'windows'> {
  /** The labels: a key of each manifest record's `label` object (e.g. `'direction'`), or id → label. */
  labels: LabelSource
  /**
   * Class names in the head's order. A labelled video whose label is not among them is an error.
   * @default the sorted distinct labels of the training videos
   */
  classes?: string[]
  /**
   * Fraction of the training videos whose labels are used, chosen per class (seeded, at least one
   * per class) — for label-efficiency experiments. Validation videos keep all their labels. @default 1
   */
  labelFraction?: number
  /**
   * The text every sample carries, e.g. `'[MASK] [MASK] [MASK] [MASK]'` for a head with
   * `classifierPooling: 'text'` (it then reads what the masked-language-model pathway predicts from
   * the video). @default none: the video alone
   */
  prompt?: string
}

/** The label of one video record, or null when it has none. */
export function labelOf(record: VideoRecord, source: LabelSource): string | null {
  if (typeof source !== 'string') return source.get(record.id) ?? null
  const label = record.label
  if (label === null || typeof label !== 'object') return null
  const value = (label as Record<string, unknown>)[source]
  return value === undefined || value === null ? null : String(value)
}

/**
 * A label file: JSONL (`{"id": "...", "label": "..."}` per line) or CSV with a header `id,label`.
 * Errors name the file and the line.
 */
export function readLabelFile(path: string): Map<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new VideoBertError('Io', `cannot read the label file ${path}: ${(err as Error).message}`, { cause: err })
  }
  const lines = text.split(/\r?\n/)
  const out = new Map<string, string>()
  const csv = path.toLowerCase().endsWith('.csv')
  let columns: { id: number; label: number } | null = null
  lines.forEach((line, i) => {
    if (!line.trim()) return
    const where = `${path}:${i + 1}`
    let id: unknown
    let label: unknown
    if (csv) {
      const cells = line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'))
      if (!columns) {
        columns = { id: cells.indexOf('id'), label: cells.indexOf('label') }
        if (columns.id < 0 || columns.label < 0) throw new VideoBertError('InvalidInput', `${where}: the CSV header must name the columns id and label`)
        return
      }
      id = cells[columns.id]
      label = cells[columns.label]
    } else {
      try {
        ;({ id, label } = JSON.parse(line) as { id?: unknown; label?: unknown })
      } catch (err) {
        throw new VideoBertError('InvalidInput', `${where}: not JSON (${(err as Error).message})`, { cause: err })
      }
    }
    if (typeof id !== 'string' || !id || (typeof label !== 'string' && typeof label !== 'number') || label === '') {
      throw new VideoBertError('InvalidInput', `${where}: needs a string id and a label`)
    }
    out.set(id, String(label))
  })
  if (out.size === 0) throw new VideoBertError('InvalidInput', `the label file ${path} has no labels`)
  return out
}

/**
 * Classifier data over a shard set (see the module notes): every window of a labelled video, with the
 * video's class index as its label and the prompt (if any) as its text; seeded epochs of batches.
 */
export class LabelledDataset extends WindowedDataset {
  /** What a model trained on it learns (the Trainer's `TrainingData`). */
  readonly objective = 'classify' as const
  /** Class names; a sample's label is an index into this list. */
  readonly classes: string[]
  // `windows`: those of labelled videos, per split (training: only the `labelFraction` chosen).
  /** Class index of every labelled video. */
  readonly labels = new Map<number, number>()
  /** Videos without a label (left out). */
  readonly unlabelled: number[] = []
  readonly #prompt: Uint32Array

  constructor(
    readonly shards: TokenShards,
    readonly config: VideoBertConfig,
    tokenizer: TextTokenizer,
    options: LabelledDatasetOptions,
  ) {
    const { labels: source, classes, labelFraction = 1, prompt, ...rest } = options
    super(shards, config, tokenizer, rest)
    if (!(labelFraction > 0 && labelFraction <= 1)) {
      throw new VideoBertError('InvalidConfig', `invalid config field \`labelFraction\`: must be in (0, 1], got ${labelFraction}`)
    }
    this.#prompt = prompt ? encodePromptWith(tokenizer, config, prompt) : new Uint32Array(0)
    const names = new Map<number, string>()
    for (let v = 0; v < shards.length; v++) {
      const name = labelOf(shards.video(v), source)
      if (name === null) this.unlabelled.push(v)
      else names.set(v, name)
    }
    const trainNames = this.base.videos.train.filter((v) => names.has(v)).map((v) => names.get(v)!)
    this.classes = classes ? classes.slice() : [...new Set(trainNames)].sort()
    if (this.classes.length < 2) {
      throw new VideoBertError('InvalidInput', `a classifier needs at least 2 classes; the labels give ${JSON.stringify(this.classes)}`)
    }
    const index = new Map(this.classes.map((c, i) => [c, i]))
    for (const [v, name] of names) {
      const c = index.get(name)
      if (c === undefined) {
        throw new VideoBertError('InvalidInput', `video '${shards.video(v).id}' has the label '${name}', which is not one of the classes [${this.classes.join(', ')}]`)
      }
      this.labels.set(v, c)
    }
    const chosen = this.#chooseTraining(labelFraction)
    for (const split of ['train', 'validation'] as const) {
      this.windows[split] = this.base.windows[split].filter((w) => (split === 'train' ? chosen.has(w.video) : this.labels.has(w.video)))
    }
  }

  /** The labelled training videos kept: `labelFraction` of each class, seeded, at least one. */
  #chooseTraining(fraction: number): Set<number> {
    const byClass = new Map<number, number[]>()
    for (const v of this.base.videos.train) {
      const c = this.labels.get(v)
      if (c === undefined) continue
      const list = byClass.get(c)
      if (list) list.push(v)
      else byClass.set(c, [v])
    }
    const next = rng((this.seed * 31337 + 0x1abe1) >>> 0)
    const chosen = new Set<number>()
    for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
      const videos = shuffle(byClass.get(c)!, next)
      for (const v of videos.slice(0, Math.max(1, Math.round(videos.length * fraction)))) chosen.add(v)
    }
    return chosen
  }

  /** Batches of one epoch of a split (training windows shuffled, seeded by epoch). */
  *batches(split: Split, batchSize: number, epoch = 0, part?: DataPart): Generator<Batch> {
    const order = this.epochOrder(this.windows[split], split, epoch, 3)
    for (let start = 0; start < order.length; start += batchSize) {
      const mine = takePart(order.slice(start, start + batchSize), part)
      if (!mine) continue
      const batch = this.collate(mine)
      if (batch) yield batch
      else if (part) throw unreadablePart(part)
    }
  }

  /** A batch of windows (and the prompt, if any) with their labels; unreadable windows follow `badItems`. */
  collate(windows: Window[]): Batch | null {
    const { batch, kept } = this.base.collateKept(windows.map((w) => ({ w, text: this.#prompt, label: 1 })))
    if (!batch) return null
    batch.labels = Uint32Array.from(kept, (it) => this.labels.get(it.w.video)!)
    return batch
  }
}
