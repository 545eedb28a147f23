/**
 * Pre-training from token shards and a vocabulary with the Trainer — what `videobert pretrain` runs.
 * `featureDim` and `numRegions` come from the shards, `vocabSize` from the tokenizer, and for a
 * visual-word model `numVisualWords` from the shards' codebook, unless the config sets them; a
 * mismatch with the shards is one clear error.
 */
import { deviceOfRank, distributedFor, type DistributedOptions } from '../distributed.js'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

import { PRESET_TRAINING, resolveConfig, type PresetName, type VideoBertConfig } from '../config.js'
import { noValidationNote, VideoTextDataset } from '../data/dataset.js'
import { VideoBertError } from '../errors.js'
import { CODEBOOK_FILE, TOKENIZER_FILE } from '../files.js'
import { VideoBERT, type Device } from '../model.js'
import { Codebook } from '../codebook.js'
import { TextTokenizer } from '../vocab.js'
import { TokenShards } from '../shards.js'
import { Trainer, type FitResult } from './trainer.js'


export { PRESET_TRAINING } // defined with the presets (config.ts), re-exported for the trainer's callers

/** What every option of `pretrain` is when left out (the CLI's help shows these). */
export const PRETRAIN_DEFAULTS = {
  preset: 'small' as PresetName,
  steps: 1000,
  gradientAccumulation: 1,
  /** Warm-up steps as a fraction of `steps`. */
  warmupFraction: 0.1,
  decay: 'cosine' as 'cosine' | 'linear' | 'constant',
  evalEvery: 100,
  checkpointEvery: 100,
  keepLast: 3,
  validationFraction: 0.1,
  split: 'video' as 'video' | 'time',
  windows: 'auto' as 'auto' | 'tiles' | 'captions',
  seed: 0,
}

/** What `pretrain` trains: the shards, the vocabulary, the run directory, the model config and the Trainer's settings (defaults: `PRETRAIN_DEFAULTS`, `PRESET_TRAINING`). */
export interface PretrainOptions {
  /** Token shards (`videobert tokenize`). */
  data: string
  /** The vocabulary (`videobert vocab`). */
  tokenizer: string
  /** Run directory: checkpoints, metrics.jsonl, loss-curve.html. */
  out: string
  preset?: PresetName
  /** Config fields over the preset (e.g. from a config.json). */
  config?: Partial<VideoBertConfig>
  steps?: number
  /** @default PRESET_TRAINING[preset].batchSize */
  batchSize?: number
  gradientAccumulation?: number
  /** Peak learning rate. @default PRESET_TRAINING[preset].lr */
  lr?: number
  /** @default steps × warmupFraction */
  warmupSteps?: number
  decay?: 'cosine' | 'linear' | 'constant'
  evalEvery?: number
  checkpointEvery?: number
  keepLast?: number
  validationFraction?: number
  /** Hold out whole videos (`'video'`) or the end of each video (`'time'`, for one long video or a few; `DatasetOptions.split`). @default 'video' */
  split?: 'video' | 'time'
  /** What a training window is (`DatasetOptions.windows`). @default 'auto' */
  windows?: 'auto' | 'tiles' | 'captions'
  seed?: number
  /** Threads for tensor math. @default physical cores */
  threads?: number
  /** Where the model computes: `'cpu'`, `'cuda'` or `'cuda:N'` (`CreateOptions.device`). @default 'cpu' */
  device?: Device
  /** Continue from the latest complete checkpoint in `out`. */
  resume?: boolean
  /**
   * Data-parallel training (`distributedFor`): by default on when a launcher (mpirun, mpiexec, srun)
   * started this process as one of several; `false` off; `true` or options required. `batchSize` is per rank.
   */
  distributed?: boolean | DistributedOptions
  signal?: AbortSignal
  /** Draw the progress line. @default true */
  progress?: boolean
}

/** What `pretrain` returns: the Trainer's result, and why there was no validation when there was none. */
export interface PretrainResult extends FitResult {
  /** Plain words on why no window was held out for validation and what to do; null when some were. */
  validationNote: string | null
}

/** Pre-train a model of the preset (and `config`) on the shards with the Trainer (see the module notes), or resume the run in `out`. */
export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const d = PRETRAIN_DEFAULTS
  const shards = await TokenShards.open(o.data)
  if (shards.length === 0) throw new VideoBertError('InvalidInput', `${o.data}: the shard directory has no videos`)
  const missing = shards.missingChunks.length
  if (missing > 0 && (o.progress ?? true)) {
    process.stderr.write(`pretrain: ${o.data} is incomplete (${missing} chunks missing: a part of the tokenize job not done?); training on the ${shards.length} videos present ('videobert shards check' lists them)\n`)
  }
  const tokenizer = TextTokenizer.load(o.tokenizer)
  const preset = o.preset ?? d.preset
  // A visual-word model's codebook size is the one the shards were assigned with.
  const codebook = join(o.data, CODEBOOK_FILE)
  const words = o.config?.videoInput === 'visual_words' && o.config.numVisualWords === undefined && existsSync(codebook) ? { numVisualWords: (await Codebook.load(codebook)).numWords } : {}
  const config = resolveConfig({
    preset,
    featureDim: shards.params.featureDim,
    numRegions: shards.numRegions,
    vocabSize: tokenizer.vocabSize,
    ...words,
    ...o.config,
  })
  const training = PRESET_TRAINING[preset] // resolveConfig refused an unknown preset
  const steps = o.steps ?? d.steps
  const seed = o.seed ?? d.seed
  const decay = o.decay ?? d.decay
  if (!['cosine', 'linear', 'constant'].includes(decay)) throw new VideoBertError('InvalidConfig', `invalid config field \`decay\`: cosine, linear or constant, got '${decay}'`)
  const validationFraction = o.validationFraction ?? d.validationFraction
  const data = new VideoTextDataset(shards, config, tokenizer, { validationFraction, split: o.split ?? d.split, windows: o.windows ?? d.windows, seed })
  const validationNote = noValidationNote(data, validationFraction)
  if (validationNote && (o.progress ?? true)) process.stderr.write(`pretrain: ${validationNote}\n`)
  const distributed = distributedFor(o.distributed, o.device)
  const device = deviceOfRank(o.device, distributed)
  const model = await VideoBERT.create(config, { seed, numThreads: o.threads, device })
  const trainer = new Trainer({
    out: o.out,
    steps,
    batchSize: o.batchSize ?? training.batchSize,
    gradientAccumulation: o.gradientAccumulation ?? d.gradientAccumulation,
    schedule: { lr: o.lr ?? training.lr, warmupSteps: o.warmupSteps ?? Math.round(steps * d.warmupFraction), decay },
    evalEvery: o.evalEvery ?? d.evalEvery,
    checkpointEvery: o.checkpointEvery ?? d.checkpointEvery,
    keepLast: o.keepLast ?? d.keepLast,
    resume: Boolean(o.resume),
    checkpointFiles: { [TOKENIZER_FILE]: o.tokenizer },
    signal: o.signal,
    progress: o.progress ?? true,
    distributed,
  })
  return { ...(await trainer.fit(model, data)), validationNote }
}
