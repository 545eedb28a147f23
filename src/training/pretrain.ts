/**
 * Pre-training from token shards and a vocabulary with the Trainer — what `videobert pretrain` runs.
 * `featureDim` and `numRegions` come from the shards and `vocabSize` from the tokenizer unless the
 * config sets them; a mismatch with the shards is one clear error.
 */
import { resolveConfig, type PresetName, type VideoBertConfig } from '../config.js'
import { VideoTextDataset } from '../data/dataset.js'
import { VideoBertError } from '../errors.js'
import { TOKENIZER_FILE } from '../files.js'
import { VideoBERT } from '../model.js'
import { TextTokenizer, TokenShards } from '../shards.js'
import { Trainer, type FitResult } from './trainer.js'

/** What every option of `pretrain` is when left out (the CLI's help shows these). */
export const PRETRAIN_DEFAULTS = {
  preset: 'small' as PresetName,
  steps: 1000,
  batchSize: 8,
  gradientAccumulation: 1,
  lr: 1e-4,
  /** Warm-up steps as a fraction of `steps`. */
  warmupFraction: 0.1,
  decay: 'cosine' as 'cosine' | 'linear' | 'constant',
  evalEvery: 100,
  checkpointEvery: 100,
  keepLast: 3,
  validationFraction: 0.1,
  seed: 0,
}

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
  batchSize?: number
  gradientAccumulation?: number
  lr?: number
  /** @default steps × warmupFraction */
  warmupSteps?: number
  decay?: 'cosine' | 'linear' | 'constant'
  evalEvery?: number
  checkpointEvery?: number
  keepLast?: number
  validationFraction?: number
  seed?: number
  /** Threads for tensor math. @default physical cores */
  threads?: number
  /** Continue from the latest complete checkpoint in `out`. */
  resume?: boolean
  signal?: AbortSignal
  /** Draw the progress line. @default true */
  progress?: boolean
}

export async function pretrain(o: PretrainOptions): Promise<FitResult> {
  const d = PRETRAIN_DEFAULTS
  const shards = await TokenShards.open(o.data)
  if (shards.length === 0) throw new VideoBertError('InvalidInput', `${o.data}: the shard directory has no videos`)
  const tokenizer = TextTokenizer.load(o.tokenizer)
  const config = resolveConfig({
    preset: o.preset ?? d.preset,
    featureDim: shards.params.featureDim,
    numRegions: shards.numRegions,
    vocabSize: tokenizer.vocabSize,
    ...o.config,
  })
  const steps = o.steps ?? d.steps
  const seed = o.seed ?? d.seed
  const decay = o.decay ?? d.decay
  if (!['cosine', 'linear', 'constant'].includes(decay)) throw new VideoBertError('InvalidConfig', `invalid config field \`decay\`: cosine, linear or constant, got '${decay}'`)
  const data = new VideoTextDataset(shards, config, tokenizer, { validationFraction: o.validationFraction ?? d.validationFraction, seed })
  const model = await VideoBERT.create(config, { seed, numThreads: o.threads })
  const trainer = new Trainer({
    out: o.out,
    steps,
    batchSize: o.batchSize ?? d.batchSize,
    gradientAccumulation: o.gradientAccumulation ?? d.gradientAccumulation,
    schedule: { lr: o.lr ?? d.lr, warmupSteps: o.warmupSteps ?? Math.round(steps * d.warmupFraction), decay },
    evalEvery: o.evalEvery ?? d.evalEvery,
    checkpointEvery: o.checkpointEvery ?? d.checkpointEvery,
    keepLast: o.keepLast ?? d.keepLast,
    resume: Boolean(o.resume),
    checkpointFiles: { [TOKENIZER_FILE]: o.tokenizer },
    signal: o.signal,
    progress: o.progress ?? true,
  })
  return trainer.fit(model, data)
}
