/**
 * Fine-tuning a classifier on a pre-trained checkpoint (SPEC §2.3): a classification head on `[CLS]`
 * (or on the mean of the segment outputs) trained with the Trainer on labelled videos. The result is
 * a checkpoint that `loadClassifier` / `videobert classify` read: the model, the class names
 * (`classes.json`), and the files inference needs (tokenizer, feature standardisation, video-tokenizer
 * settings).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { checkpointConfig, type VideoBertConfig } from '../config.js'
import { loadFeatureNorm, type FeatureNorm } from '../data/feature-norm.js'
import { LabelledDataset, type LabelSource } from '../data/labelled.js'
import { MASK } from '../data/prompt.js'
import { deviceOfRank, distributedFor, startedRank, type DistributedOptions } from '../distributed.js'
import { VideoBertError } from '../errors.js'
import { evaluateClassifier, type ClassificationReport } from '../eval/classification.js'
import { CLASSES_FILE, FEATURE_NORM_FILE, TOKENIZER_FILE } from '../files.js'
import { VideoBERT, type Device, type StepResult } from '../model.js'
import { TextTokenizer } from '../vocab.js'
import { TokenShards } from '../shards.js'
import type { LayerRateOptions } from './schedule.js'
import { Trainer, type FitResult, type TrainingData } from './trainer.js'

/** What the options of `finetuneClassifier` are when left out (the CLI's help shows these). */
export const FINETUNE_DEFAULTS = { steps: 300, batchSize: 16, lr: 1e-3, maskLr: 1e-4, warmupFraction: 0.1, layerDecay: 1, encoderLrScale: 1, freezeFraction: 0, validationFraction: 0.1, labelFraction: 1, seed: 0 }

/** What `finetuneClassifier` trains: the checkpoint, the labelled shards and their labels, the run directory, and the training settings. */
export interface FinetuneOptions {
  /** The pre-trained checkpoint directory (needs `tokenizer.json`). */
  checkpoint: string
  /** Token shards of the labelled videos (a directory or an open `TokenShards`). */
  shards: string | TokenShards
  /** A key of the manifest's `label` objects (e.g. `'direction'`), or a map video id → label. */
  labels: LabelSource
  /** Class names in head order. @default the sorted labels of the training videos */
  classes?: string[]
  /** Fraction of the training videos whose labels are used (per class, seeded). @default 1 */
  labelFraction?: number
  /** Fraction of the videos held out to validate on. @default 0.1 */
  validationFraction?: number
  /** Run directory (checkpoints, metrics.jsonl, loss-curve.html). */
  out: string
  /** Optimizer steps. @default 300 */
  steps?: number
  /** @default 16 */
  batchSize?: number
  /**
   * Peak learning rate (linear warm-up over 10 % of the steps, cosine decay). @default 1e-3 (1e-4
   * with `pooling: 'mask'`, which fine-tunes pre-trained heads rather than a new one)
   */
  lr?: number
  /**
   * Layer-wise learning-rate decay in (0, 1]: the head learns at `lr`, encoder layer i of L at
   * `lr · layerDecay^(L − i)`, the embeddings at `lr · layerDecay^(L + 1)`. @default 1
   */
  layerDecay?: number
  /** Multiplier in [0, 1] on the encoder's learning rate (0: a frozen encoder, only the head learns). @default 1 */
  encoderLrScale?: number
  /** Fraction of the steps at the start during which the encoder is frozen and only the head learns. @default 0 */
  freezeFraction?: number
  /**
   * What the head reads: `'cls'`, `'segments'` (their mean), `'text'` (the mean of the prompt's
   * outputs), or `'mask'` — a prompt classifier: no new head, each class scored by the pre-trained
   * fill-in-the-blank head's logit of its name (one vocabulary word) at the prompt's last `[MASK]`
   * (e.g. prompt `'a [MASK] [MASK] moves [MASK]'`, classes `left`, `right`, …). With few labels it
   * keeps what pre-training learned (docs/using-a-model.md, "Does pre-training help?").
   * @default 'cls' ('text' with a `prompt`)
   */
  pooling?: ClassifierPooling
  /** A fixed text with `[MASK]` tokens given with every video (see `LabelledDatasetOptions.prompt`). @default none */
  prompt?: string
  /** Seeds the head, the label choice, the split and the order. @default 0 */
  seed?: number
  /**
   * Train the same architecture from random initialisation instead of the checkpoint's weights (the
   * baseline for "does pre-training help"). The data, its standardisation and the schedule are the same.
   * @default false
   */
  fromScratch?: boolean
  /** Threads for tensor math. @default physical cores */
  numThreads?: number
  /** Where the model computes: `'cpu'`, `'cuda'` or `'cuda:N'` (`CreateOptions.device`). @default 'cpu' */
  device?: Device
  /** Progress line on stderr. @default true */
  progress?: boolean
  /**
   * Data-parallel fine-tuning (`distributedFor`, docs/distributed.md): by default on when a launcher
   * (mpirun, mpiexec, srun) started this process as one of several; `false` trains alone; `true` or
   * options require a launch. `batchSize` is per process; rank 0 writes the run directory.
   * @default undefined (on under a launcher)
   */
  distributed?: boolean | DistributedOptions
  signal?: AbortSignal
}

/** What `finetuneClassifier` returns: the model and its classes, the final checkpoint, the fit, the video counts and the validation report. */
export interface FinetuneResult {
  model: VideoBERT
  classes: string[]
  /** Directory of the final checkpoint. */
  checkpoint: string
  fit: FitResult
  /** Labelled training videos used, and validation videos. */
  videos: { train: number; validation: number }
  /** Accuracy and per-class figures on the validation videos (null when there are none). */
  validation: ClassificationReport | null
}

/**
 * Fine-tune a classifier on a pre-trained checkpoint (see the module notes): a `LabelledDataset` of
 * the shards, a classification head trained with the Trainer, then `evaluateClassifier` on the
 * validation videos.
 */
export async function finetuneClassifier(o: FinetuneOptions): Promise<FinetuneResult> {
  const d = FINETUNE_DEFAULTS
  const seed = o.seed ?? d.seed
  const pooling = o.pooling ?? (o.prompt ? 'text' : 'cls')
  if ((pooling === 'text' || pooling === 'mask') && !o.prompt) throw new VideoBertError('InvalidConfig', `invalid config field \`pooling\`: '${pooling}' reads the prompt's outputs; give a prompt`)
  if (pooling === 'mask' && !o.prompt!.includes(MASK)) {
    throw new VideoBertError('InvalidConfig', `invalid config field \`prompt\`: pooling 'mask' reads the last ${MASK} of the prompt, and ${JSON.stringify(o.prompt)} has none`)
  }
  const { shards, tokenizer, config, featureNorm } = await finetuneInputs(o.checkpoint, o.shards)
  const data = new LabelledDataset(shards, config, tokenizer, {
    labels: o.labels,
    classes: o.classes,
    labelFraction: o.labelFraction,
    prompt: o.prompt,
    validationFraction: o.validationFraction ?? d.validationFraction,
    seed,
    featureNorm,
  })
  const words = pooling === 'mask' ? classWords(data.classes, tokenizer) : undefined
  const lr = o.lr ?? (pooling === 'mask' ? d.maskLr : d.lr)
  const { fit, checkpoint } = await trainHead({ ...o, lr }, data, { classes: data.classes, labels: typeof o.labels === 'string' ? o.labels : null, prompt: o.prompt ?? null }, pooling, config, words)
  const validation = data.windows.validation.length > 0 ? await evaluateClassifier(fit.model, data, 'validation') : null
  return {
    model: fit.model,
    classes: data.classes,
    checkpoint,
    fit,
    videos: { train: data.videos('train').length, validation: data.videos('validation').length },
    validation,
  }
}

/**
 * What every fine-tuning task reads: the shards, and of the pre-trained checkpoint its tokenizer,
 * config and feature standardisation (the encoder was trained on standardised features: it gets the
 * same inputs, also from scratch, so that comparison differs in the weights only).
 */
export async function finetuneInputs(
  checkpoint: string,
  shards: string | TokenShards,
): Promise<{ shards: TokenShards; tokenizer: TextTokenizer; config: VideoBertConfig; featureNorm: FeatureNorm | 'none' }> {
  const tokenizerPath = join(checkpoint, TOKENIZER_FILE)
  if (!existsSync(tokenizerPath)) throw new VideoBertError('Checkpoint', `${checkpoint}: no ${TOKENIZER_FILE} (not a pre-trained checkpoint directory?)`)
  const normPath = join(checkpoint, FEATURE_NORM_FILE)
  return {
    shards: typeof shards === 'string' ? await TokenShards.open(shards) : shards,
    tokenizer: TextTokenizer.load(tokenizerPath),
    config: checkpointConfig(checkpoint),
    featureNorm: existsSync(normPath) ? loadFeatureNorm(normPath) : 'none',
  }
}

/** The options every fine-tuning task shares. */
export type HeadOptions = Pick<
  FinetuneOptions,
  'checkpoint' | 'out' | 'steps' | 'batchSize' | 'lr' | 'layerDecay' | 'encoderLrScale' | 'freezeFraction' | 'seed' | 'fromScratch' | 'numThreads' | 'device' | 'progress' | 'distributed' | 'signal'
>

/**
 * How a fine-tuning run's model is created (seed, threads, and the device of this rank: `cuda` is
 * `cuda:LOCAL_RANK` in a data-parallel group, which this joins when `o.distributed` says so).
 */
export function createOptions(o: HeadOptions): { seed: number; numThreads?: number; device?: Device } {
  return { seed: o.seed ?? FINETUNE_DEFAULTS.seed, numThreads: o.numThreads, device: deviceOfRank(o.device, distributedFor(o.distributed, o.device)) }
}

/**
 * Write a JSON file the final checkpoint carries (`classes.json`) into the run directory — on rank 0
 * only in a data-parallel run, which alone copies it into checkpoints — and return its path.
 */
export function writeRunFile(o: HeadOptions, name: string, value: unknown): string {
  const path = join(o.out, name)
  if (startedRank() === 0) {
    mkdirSync(o.out, { recursive: true })
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
  }
  return path
}

/**
 * A classification head over `classes.classes` on the checkpoint's encoder (or the same
 * architecture from random weights), trained with the Trainer on `data`; the final checkpoint
 * carries `classes.json` (`classes`) and the tokenizer. Returns the fit and the final checkpoint's directory.
 */
export async function trainHead(
  o: HeadOptions,
  data: TrainingData,
  classes: { classes: string[] } & Record<string, unknown>,
  pooling: ClassifierPooling,
  config: VideoBertConfig,
  words?: number[],
): Promise<{ fit: FitResult; checkpoint: string }> {
  const numLabels = classes.classes.length
  const create = createOptions(o)
  const model = o.fromScratch
    ? await VideoBERT.create({ ...withoutTaskHead(config), numLabels, classifierPooling: pooling, classifierWords: words ?? [] }, create)
    : await VideoBERT.forClassification(o.checkpoint, { numLabels, pooling, words }, create)
  return trainTask(o, data, model, 'classifyLoss', { [CLASSES_FILE]: writeRunFile(o, CLASSES_FILE, classes) })
}

/**
 * Train a model with a fresh task head on `data` with the Trainer (warm-up, cosine decay, one final
 * checkpoint that carries the tokenizer and `files`; `monitor` is the validation metric it tracks as
 * best). Returns the fit and the final checkpoint's directory.
 */
export async function trainTask(
  o: HeadOptions,
  data: TrainingData,
  model: VideoBERT,
  monitor: keyof StepResult,
  files: Record<string, string> = {},
): Promise<{ fit: FitResult; checkpoint: string }> {
  const d = FINETUNE_DEFAULTS
  const steps = o.steps ?? d.steps
  const trainer = new Trainer({
    out: o.out,
    steps,
    batchSize: o.batchSize ?? d.batchSize,
    schedule: { lr: o.lr ?? d.lr, warmupSteps: Math.round(steps * d.warmupFraction), decay: 'cosine' },
    layerRates: layerRates(o, steps),
    checkpointEvery: 0,
    keepLast: 1,
    monitor,
    checkpointFiles: { [TOKENIZER_FILE]: join(o.checkpoint, TOKENIZER_FILE), ...files },
    signal: o.signal,
    progress: o.progress ?? true,
    distributed: distributedFor(o.distributed, o.device),
  })
  const fit = await trainer.fit(model, data)
  return { fit, checkpoint: join(o.out, 'checkpoints', `step-${fit.state.step}`) }
}

/** `config` with no task head (no classifier, prompt words or caption decoder): what a from-scratch run adds its own head to. */
export function withoutTaskHead(config: VideoBertConfig): VideoBertConfig {
  return { ...config, numLabels: 0, classifierPooling: 'cls', classifierWords: [], decoderLayers: 0 }
}

/** What a classification head reads (`ClassifierOptions.pooling`). */
export type ClassifierPooling = 'cls' | 'segments' | 'text' | 'mask'

/**
 * The word piece of each class of a mask-pooled classifier (`pooling: 'mask'`): every class name must
 * be one word piece of the vocabulary.
 */
export function classWords(classes: string[], tokenizer: TextTokenizer): number[] {
  const unknown = tokenizer.tokenToId('[UNK]')
  return classes.map((c) => {
    // As the tokenizer reads the word (normalised): exactly one known word piece.
    const pieces = [...tokenizer.encode(c, 8)]
    const id = pieces.length === 1 && pieces[0] !== unknown ? pieces[0]! : null
    if (id === null) throw new VideoBertError('InvalidConfig', `invalid config field \`classes\`: pooling 'mask' scores each class by its word, and '${c}' is not one word piece of the vocabulary`)
    return id
  })
}

/** The Trainer's layer rates of a fine-tuning run: the options (or their defaults), checked, the freeze as whole steps. */
function layerRates(o: HeadOptions, steps: number): LayerRateOptions {
  const d = FINETUNE_DEFAULTS
  const layerDecay = o.layerDecay ?? d.layerDecay
  const encoderLrScale = o.encoderLrScale ?? d.encoderLrScale
  const freezeFraction = o.freezeFraction ?? d.freezeFraction
  const check = (field: string, v: number, ok: boolean, range: string) => {
    if (!(Number.isFinite(v) && ok)) throw new VideoBertError('InvalidConfig', `invalid config field \`${field}\`: must be in ${range}, got ${v}`)
  }
  check('layerDecay', layerDecay, layerDecay > 0 && layerDecay <= 1, '(0, 1]')
  check('encoderLrScale', encoderLrScale, encoderLrScale >= 0 && encoderLrScale <= 1, '[0, 1]')
  check('freezeFraction', freezeFraction, freezeFraction >= 0 && freezeFraction <= 1, '[0, 1]')
  return { layerDecay, encoderLrScale, freezeSteps: Math.round(freezeFraction * steps) }
}
