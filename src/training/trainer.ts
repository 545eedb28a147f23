/**
 * `Trainer`: owns the pre-training loop (SPEC §2.3) — one native call per optimizer step, the
 * learning-rate schedule, gradient accumulation, periodic validation, checkpoints, callbacks,
 * early stopping, JSONL metrics, a progress line, and `loss-curve.html` at the end. Resuming from a checkpoint continues the same
 * run: the model carries its optimizer state and seed, `trainer_state.json` the data position, so
 * the resumed losses equal an uninterrupted run's, bit for bit, on CPU.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { ProgressLine } from '../progress.js'
import type { Batch } from '../batch.js'
import type { Split, VideoTextDataset, Window } from '../data/dataset.js'
import { saveFeatureNorm } from '../data/feature-norm.js'
import { textToVideoRetrieval } from '../eval/retrieval.js'
import { VideoBertError } from '../errors.js'
import { stepDefaults } from '../native.js'
import { CODEBOOK_FILE, FEATURE_NORM_FILE, METRICS_FILE, VIDEO_TOKENIZER_FILE } from '../files.js'
import { VideoBERT, type StepResult } from '../model.js'
import { tokenizeOptionsOf } from '../video-tokenizer.js'
import { CheckpointManager, type TrainerState } from './checkpoints.js'
import type { DataPart, Distributed } from '../distributed.js'
import { HealthMonitor, type HealthOptions, type HealthWarning } from './health.js'
import { writeLossCurve } from './report.js'
import { layerRatesAt, learningRate, type LayerRateOptions, type ScheduleOptions } from './schedule.js'

/** What every kind of `TrainingData` has: batches of a split, its windows, the feature standardisation, the shards and the skipped items. */
export interface DataCommon {
  /**
   * Batches of one epoch of a split, up to `batchSize` items each (training order shuffled, seeded by
   * `epoch`); with a `part`, this rank's share of each (`takePart`).
   */
  batches(split: Split, batchSize: number, epoch?: number, part?: DataPart): Generator<Batch>
  readonly windows: Record<Split, Window[]>
  readonly featureNorm: VideoTextDataset['featureNorm']
  readonly shards: VideoTextDataset['shards']
  readonly skipped: VideoTextDataset['skipped']
}

/**
 * What the Trainer trains on: pre-training data (`VideoTextDataset`: its validation also reports
 * text→video retrieval, which reads the windows' captions) or a labelled set for a classifier
 * (`LabelledDataset`, `QuestionDataset`) or a captioned set for a caption decoder (`CaptionDataset`). Batches of a split, its windows, the feature standardisation and the shards'
 * settings (saved with every checkpoint), and the items skipped as unreadable.
 */
export type TrainingData =
  | (DataCommon & Pick<VideoTextDataset, 'collate' | 'tokenizer'> & { readonly objective: 'pretrain' })
  | (DataCommon & { readonly objective: 'classify' | 'caption' })

/**
 * What a validation reports: the mean losses and accuracies over the validation split and, for
 * pre-training data, text→video retrieval among the validation windows (word-profile scorer).
 */
export interface ValidationMetrics extends StepResult {
  /** Recall@1 / @5 of text→video retrieval among `retrievalCandidates` validation windows. */
  retrievalR1?: number
  retrievalR5?: number
  /** The same for a random ranking. */
  retrievalChanceR1?: number
  retrievalChanceR5?: number
  retrievalCandidates?: number
}

/**
 * Hooks into `Trainer.fit`, each optional and awaited in turn (callbacks in the order given). A
 * callback that throws ends the fit.
 */
export interface TrainerCallbacks {
  /** Before the first step, with the state the run starts from (after a resume: the checkpoint's). */
  onFitStart?(t: Trainer, state: TrainerState): void | Promise<void>
  /** After each optimizer step, with the step number and its losses, accuracies, gradient norm and learning rate. */
  onTrainBatchEnd?(t: Trainer, step: number, metrics: StepResult & { lr: number }): void | Promise<void>
  /** After each validation, with the step and the validation metrics. */
  onValidationEnd?(t: Trainer, step: number, metrics: ValidationMetrics): void | Promise<void>
  /** After a checkpoint is written, with its directory and the state saved in it. */
  onSaveCheckpoint?(t: Trainer, path: string, state: TrainerState): void | Promise<void>
  /** When a resumed run has loaded the latest checkpoint, with its directory and state. */
  onLoadCheckpoint?(t: Trainer, path: string, state: TrainerState): void | Promise<void>
  /** When the training loop fails, with the error (which `fit` then rethrows). */
  onException?(t: Trainer, err: unknown): void | Promise<void>
  /** After the loop ends (completed, early-stopped or aborted), with the final state. */
  onFitEnd?(t: Trainer, state: TrainerState): void | Promise<void>
}

/** How the `Trainer` trains: the run directory, steps, batching, schedule, validation, checkpoints, stopping and reporting. */
export interface TrainerOptions {
  /** Run directory: checkpoints and metrics.jsonl. */
  out: string
  /** Optimizer steps to train. */
  steps: number
  /** Samples per micro-batch (on each rank, with `distributed`: the global micro-batch is batchSize × ranks). @default 8 */
  batchSize?: number
  /** Micro-batches per optimizer step. @default 1 */
  gradientAccumulation?: number
  schedule: ScheduleOptions
  /** Fine-tuning: layer-wise learning-rate decay and freezing the encoder for the first steps. @default one rate for all */
  layerRates?: LayerRateOptions
  /** @default 1 */
  maxGradNorm?: number
  /** Validate every N steps (0 = only at the end; never when the validation split is empty). @default 0 */
  evalEvery?: number
  /** Save a checkpoint every N steps (0 = only at the end). @default 0 */
  checkpointEvery?: number
  /** Checkpoints kept (plus the best). @default 3 */
  keepLast?: number
  /**
   * Retrieval at each validation (pre-training data): text→video R@1 / R@5 among at most `candidates`
   * validation windows, ranked by the word-profile scorer (one forward pass per window). `false`
   * turns it off. @default { candidates: 200 }
   */
  validationRetrieval?: { candidates?: number } | false
  /** Monitored validation metric for best-checkpoint and early stopping (lower is better). @default 'loss' */
  monitor?: keyof StepResult
  /** Stop after this many validations without improvement (0 = never). @default 0 */
  earlyStoppingPatience?: number
  /** Files copied into every checkpoint, name → source path (e.g. `{ 'tokenizer.json': path }`). */
  checkpointFiles?: Record<string, string>
  /**
   * Continue from the latest complete checkpoint in `out`. Without it, `out` must hold no checkpoints
   * (an earlier run is never overwritten). @default false
   */
  resume?: boolean
  callbacks?: TrainerCallbacks[]
  /** Stop cleanly (saving a checkpoint) when aborted. */
  signal?: AbortSignal
  /** Draw a progress line on stderr. @default true */
  progress?: boolean
  /**
   * The health report: warnings when a loss does not move, matching stays at chance, or one loss
   * dominates the gradient (progress line, metrics.jsonl, `FitResult.health`). `false` turns it off.
   * @default {}
   */
  health?: HealthOptions | false
  /**
   * Train data-parallel in this group (`startDistributed`): each rank takes its share of every
   * global batch, the gradients are summed over the ranks, rank 0 alone writes checkpoints, metrics,
   * the progress line and the run page; every rank validates (the same numbers, so every rank takes
   * the same early-stopping decision). A resume keeps the data position when batchSize × ranks is
   * the one the run was saved with. Callbacks run on every rank (`t.options.distributed.rank`).
   */
  distributed?: Distributed
}

/** What `Trainer.fit` returns: the final state and model, why it stopped, the last validation, the health report, the data wait and the skipped items. */
export interface FitResult {
  state: TrainerState
  model: VideoBERT
  /** Why the loop ended. */
  stopped: 'completed' | 'early-stopping' | 'aborted'
  lastValidation: ValidationMetrics | null
  /** What the health report said (empty when all was well, or when it was off). */
  health: HealthWarning[]
  /**
   * Fraction of the loop's wall time spent building batches (reading shards, tokenizing, collating).
   * All but the first step's batches are built while the previous step runs natively, so the steps
   * wait for data only when this approaches the time of a step.
   */
  dataWaitFraction: number
  /** Items the dataset's `badItems: 'skip'` policy left out (each with the video and the reason). */
  skipped: { video: number; reason: string }[]
}

/** Runs the training loop (see the module notes) with fixed `TrainerOptions`: `fit` trains, `validate` evaluates. */
export class Trainer {
  readonly options: Required<Omit<TrainerOptions, 'signal' | 'callbacks' | 'distributed'>> & Pick<TrainerOptions, 'signal' | 'callbacks' | 'distributed'>

  constructor(options: TrainerOptions) {
    if (!Number.isInteger(options.steps) || options.steps <= 0) {
      throw new VideoBertError('InvalidConfig', `invalid config field \`steps\`: must be a positive integer, got ${options.steps}`)
    }
    this.options = {
      batchSize: 8,
      gradientAccumulation: 1,
      maxGradNorm: stepDefaults().maxGradNorm,
      evalEvery: 0,
      checkpointEvery: 0,
      keepLast: 3,
      monitor: 'loss',
      earlyStoppingPatience: 0,
      resume: false,
      progress: true,
      checkpointFiles: {},
      ...options,
      layerRates: options.layerRates ?? {},
      validationRetrieval: options.validationRetrieval ?? { candidates: 200 },
      health: options.health ?? {},
    }
  }

  async #emit<K extends keyof TrainerCallbacks>(name: K, ...args: Parameters<NonNullable<TrainerCallbacks[K]>>): Promise<void> {
    for (const cb of this.options.callbacks ?? []) {
      const f = cb[name] as ((...a: unknown[]) => unknown) | undefined
      if (f) await f.apply(cb, args)
    }
  }

  /**
   * Mean losses and accuracies (masked words; classes for labelled data) over the validation split,
   * and retrieval among its windows (see `validationRetrieval`).
   */
  async validate(model: VideoBERT, data: TrainingData): Promise<ValidationMetrics> {
    const sums: StepResult = { loss: 0, mlmLoss: 0, videoLoss: 0, vtmLoss: 0, classifyLoss: 0, captionLoss: 0, accuracy: 0, mlmAccuracy: 0, gradNorm: 0 }
    let n = 0
    for (const batch of data.batches('validation', this.options.batchSize, 0)) {
      const m = await model.evaluate(batch)
      for (const k of Object.keys(sums) as (keyof StepResult)[]) sums[k] += m[k] * batch.batchSize
      n += batch.batchSize
    }
    if (n === 0) throw new VideoBertError('InvalidInput', 'the validation split is empty')
    for (const k of Object.keys(sums) as (keyof StepResult)[]) sums[k] /= n
    const opt = this.options.validationRetrieval
    const captioned = data.windows.validation.filter((w) => w.text).length
    if (opt !== false && data.objective === 'pretrain' && captioned >= 2) {
      const r = await textToVideoRetrieval(model, data, 'validation', { scorer: 'words', rerank: 'none', maxCandidates: opt.candidates ?? 200 })
      return { ...sums, retrievalR1: r.recall[1], retrievalR5: r.recall[5], retrievalChanceR1: r.chance[1], retrievalChanceR5: r.chance[5], retrievalCandidates: r.candidates }
    }
    return sums
  }

  /**
   * Train `model` on `data`'s training split. Validation uses `data`'s validation split, or the
   * validation split of `validation` when given (e.g. a separate shard set with `validationFraction: 1`).
   * The steps, in order: set up the run directory, start or resume, then train step by step (each
   * step reported, validated and checkpointed when due) until the last step, an abort or early stopping.
   */
  async fit(model: VideoBERT, data: TrainingData, validation?: TrainingData): Promise<FitResult> {
    const o = this.options
    const dist = o.distributed
    const run = this.#prepareRun(model, data)
    const root = run.root
    const start = await this.#startOrResume(model, run)
    model = start.model
    const state = start.state
    const globalBatch = o.batchSize * (dist?.worldSize ?? 1)
    if (state.step > 0 && (state.globalBatchSize ?? o.batchSize) !== globalBatch) {
      throw new VideoBertError(
        'Checkpoint',
        `the run was saved with ${state.globalBatchSize ?? o.batchSize} rows per micro-batch over all ranks; resume with batchSize × ranks = ${state.globalBatchSize ?? o.batchSize} (now ${o.batchSize} × ${dist?.worldSize ?? 1}) to continue from its data position`,
      )
    }
    state.globalBatchSize = globalBatch
    if (dist) {
      model.joinDataParallel(dist.checkEvery)
      dist.barrier('the start of training') // rank 0 has prepared the run directory
    }
    const part: DataPart | undefined = dist ? { rank: dist.rank, world: dist.worldSize } : undefined
    const head = trainedHead(model, data)
    const loop: Loop = {
      valData: validation ?? data,
      line: o.progress && root ? new ProgressLine() : null,
      head,
      health: o.health === false || !root ? null : new HealthMonitor(o.steps, head, o.health),
      stream: new BatchStream(data, globalBatch, o.gradientAccumulation, state.epoch, state.batchInEpoch, part),
      next: null,
      consumed: { epoch: state.epoch, batchInEpoch: state.batchInEpoch },
      stopped: 'completed',
      lastValidation: null,
      t0: performance.now(),
      dataMs: 0,
      startStep: state.step,
    }
    const snapshot = (): TrainerState => ({ ...state, ...loop.consumed })
    try {
      await this.#emit('onFitStart', this, state)
      while (state.step < o.steps) {
        if (o.signal?.aborted) {
          loop.stopped = 'aborted'
          break
        }
        const { m, lr, micro } = await this.#trainStep(model, state, loop)
        await this.#report(model, state, loop, run, m, lr, micro)
        if (await this.#validateAndCheckpoint(model, state, loop, run, snapshot)) break
      }
      if (loop.stopped !== 'completed') await this.#checkpoint(model, run, snapshot())
      loop.line?.done()
      if (root) writeLossCurve(o.out)
      const final = snapshot()
      await this.#emit('onFitEnd', this, final)
      const dataWaitFraction = loop.dataMs / Math.max(1e-9, performance.now() - loop.t0)
      return { state: final, model, stopped: loop.stopped, lastValidation: loop.lastValidation, health: loop.health?.warnings.slice() ?? [], dataWaitFraction, skipped: data.skipped.slice() }
    } catch (err) {
      loop.line?.done()
      await this.#emit('onException', this, err)
      throw err
    }
  }

  /** The run directory, the files every checkpoint carries, and the metrics log. */
  #prepareRun(model: VideoBERT, data: TrainingData): Run {
    const o = this.options
    try {
      mkdirSync(o.out, { recursive: true })
    } catch (err) {
      throw new VideoBertError('Io', `run directory ${o.out} is not writable: ${(err as Error).message}`, { cause: err })
    }
    const ckpt = new CheckpointManager(join(o.out, 'checkpoints'), { keepLast: o.keepLast })
    // Checkpoints carry the feature standardisation the data applied, for inference.
    const files = { ...o.checkpointFiles }
    // (Written by rank 0 alone in a data-parallel run; the others only read the run directory.)
    const root = !o.distributed || o.distributed.isRoot
    if (data.featureNorm) {
      files[FEATURE_NORM_FILE] = join(o.out, FEATURE_NORM_FILE)
      if (root) saveFeatureNorm(files[FEATURE_NORM_FILE], data.featureNorm)
    }
    // ... and how the videos were tokenized, so inference can tokenize new videos the same way.
    files[VIDEO_TOKENIZER_FILE] = join(o.out, VIDEO_TOKENIZER_FILE)
    if (root) writeFileSync(files[VIDEO_TOKENIZER_FILE], `${JSON.stringify(tokenizeOptionsOf(data.shards.params), null, 2)}\n`)
    // ... and, for a model that reads visual words, the codebook they came from.
    if (model.config.videoInput === 'visual_words') {
      const codebook = join(data.shards.dir, CODEBOOK_FILE)
      if (data.shards.params.codebook === null || !existsSync(codebook)) {
        throw new VideoBertError('InvalidInput', `${data.shards.dir}: the model reads visual words (videoInput 'visual_words') but the shards have none: run \`videobert codebook fit\` and \`videobert codebook assign --data ${data.shards.dir}\` first`)
      }
      files[CODEBOOK_FILE] = codebook
    }
    const metricsPath = join(o.out, METRICS_FILE)
    return { ckpt, files, metricsPath, root, log: (record) => root && appendFileSync(metricsPath, `${JSON.stringify(record)}\n`) }
  }

  /** A fresh start (refusing a directory with an earlier run's checkpoints), or the latest checkpoint's model and state. */
  async #startOrResume(model: VideoBERT, run: Run): Promise<{ model: VideoBERT; state: TrainerState }> {
    const state: TrainerState = { step: 0, epoch: 0, batchInEpoch: 0, best: null, badEvaluations: 0, callbacks: {} }
    const latest = run.ckpt.latest()
    if (!this.options.resume) {
      // A fresh run never mixes with (or prunes) an earlier run's checkpoints and metrics.
      if (latest) {
        throw new VideoBertError('Checkpoint', `${this.options.out} already holds checkpoints of an earlier run (${latest.path}); resume it or use another directory`)
      }
      if (run.root) rmSync(run.metricsPath, { force: true })
      return { model, state }
    }
    if (!latest) {
      // Killed before its first complete checkpoint: the run starts over, and so do its metrics.
      if (run.root) rmSync(run.metricsPath, { force: true })
      return { model, state }
    }
    const restored = await VideoBERT.load(latest.path, model.options)
    if (JSON.stringify(restored.config) !== JSON.stringify(model.config)) {
      throw new VideoBertError('Checkpoint', `${latest.path}: architecture differs from the model being trained`)
    }
    const resumed = run.ckpt.readState(latest.path)
    if (run.root) truncateMetrics(run.metricsPath, resumed.step)
    await this.#emit('onLoadCheckpoint', this, latest.path, resumed)
    return { model: restored, state: resumed }
  }

  /**
   * One optimizer step on the next micro-batches, building the following step's batches while the
   * native step runs on its own thread (the loop waits for data only when building takes longer).
   */
  async #trainStep(model: VideoBERT, state: TrainerState, loop: Loop): Promise<{ m: StepResult; lr: number; micro: Batch[] }> {
    const o = this.options
    if (!loop.next) {
      const tData = performance.now()
      loop.next = loop.stream.prepare()
      loop.dataMs += performance.now() - tData
    }
    const { micro, position } = loop.next
    const lr = learningRate(state.step, o.steps, o.schedule)
    const pending = model.trainStep(micro, { lr, maxGradNorm: o.maxGradNorm, ...layerRatesAt(state.step, o.layerRates) })
    loop.next = null
    if (state.step + 1 < o.steps) {
      const tData = performance.now()
      try {
        loop.next = loop.stream.prepare()
      } catch (err) {
        await pending.catch(() => {}) // never leave the native step unawaited
        throw err
      }
      loop.dataMs += performance.now() - tData
    }
    const m = await pending
    // The position after the micro-batches trained on (the prefetched ones are not).
    loop.consumed = position
    state.step++
    return { m, lr, micro }
  }

  /** A step's metrics: the log, the callbacks, the health report and the progress line. */
  async #report(model: VideoBERT, state: TrainerState, loop: Loop, run: Run, m: StepResult, lr: number, micro: Batch[]): Promise<void> {
    const o = this.options
    run.log({ step: state.step, split: 'train', lr, ...m })
    await this.#emit('onTrainBatchEnd', this, state.step, { ...m, lr })
    const health = loop.health
    health?.observe(m)
    if (health?.due(state.step)) {
      const warnings = await health.check(state.step, model, micro[0]!)
      if (warnings.length > 0) {
        run.log({ step: state.step, split: 'health', warnings })
        if (loop.line) for (const w of warnings) process.stderr.write(`\n${w.kind === 'recovered' ? '✓' : '⚠'} step ${w.step}: ${w.message}\n`)
      }
    }
    if (!loop.line) return
    const rate = (state.step - loop.startStep) / ((performance.now() - loop.t0) / 1000)
    const warn = health && health.active.length > 0 ? `  ⚠ ${health.active.join(', ')}` : ''
    const parts = loop.head === 'classify'
      ? `(accuracy ${m.accuracy.toFixed(3)})`
      : loop.head === 'caption'
        ? `(caption ${m.captionLoss.toFixed(3)} word accuracy ${m.accuracy.toFixed(3)})`
        : `(mlm ${m.mlmLoss.toFixed(3)} video ${m.videoLoss.toFixed(3)} vtm ${m.vtmLoss.toFixed(3)})`
    loop.line.update(
      `step ${state.step}/${o.steps}  loss ${m.loss.toFixed(3)} ${parts}` +
        `  lr ${lr.toExponential(2)}  ${rate.toFixed(2)} steps/s  data ${((100 * loop.dataMs) / (performance.now() - loop.t0)).toFixed(1)}%  ETA ${((o.steps - state.step) / rate).toFixed(0)}s${warn}`,
    )
  }

  /** Validation and a checkpoint when due; whether early stopping ends the run. */
  async #validateAndCheckpoint(model: VideoBERT, state: TrainerState, loop: Loop, run: Run, snapshot: () => TrainerState): Promise<boolean> {
    const o = this.options
    const last = state.step === o.steps
    if (loop.valData.windows.validation.length > 0 && ((o.evalEvery > 0 && state.step % o.evalEvery === 0) || last)) {
      const v = await this.validate(model, loop.valData)
      loop.lastValidation = v
      run.log({ step: state.step, split: 'validation', ...v })
      await this.#emit('onValidationEnd', this, state.step, v)
      const value = v[o.monitor]
      if (!state.best || value < state.best.value) {
        state.best = { value, step: state.step }
        state.badEvaluations = 0
      } else {
        state.badEvaluations++
      }
    }
    if ((o.checkpointEvery > 0 && state.step % o.checkpointEvery === 0) || last) await this.#checkpoint(model, run, snapshot())
    if (o.earlyStoppingPatience > 0 && state.badEvaluations >= o.earlyStoppingPatience) {
      loop.stopped = 'early-stopping'
      return true
    }
    return false
  }

  /** A checkpoint, by rank 0 in a data-parallel run while the others wait (all ranks hold the same model). */
  async #checkpoint(model: VideoBERT, run: Run, s: TrainerState): Promise<void> {
    if (run.root) {
      const path = await run.ckpt.save(model, s, run.files)
      await this.#emit('onSaveCheckpoint', this, path, s)
    }
    this.options.distributed?.barrier(`the checkpoint of step ${s.step}`)
  }
}

/** What one `fit` call writes to: the checkpoints, the files they carry, the metrics log. */
interface Run {
  ckpt: CheckpointManager
  /** Whether this process writes (not a data-parallel rank other than 0). */
  root: boolean
  files: Record<string, string>
  metricsPath: string
  log: (record: Record<string, unknown>) => void
}

/** The training loop's own state, beside the `TrainerState` a checkpoint saves. */
interface Loop {
  valData: TrainingData
  line: ProgressLine | null
  head: 'classify' | 'caption' | 'pretrain'
  health: HealthMonitor | null
  stream: BatchStream
  /** The next step's micro-batches, built while the current step runs. */
  next: ReturnType<BatchStream['prepare']> | null
  /** The data position after the micro-batches already trained on. */
  consumed: { epoch: number; batchInEpoch: number }
  stopped: FitResult['stopped']
  lastValidation: ValidationMetrics | null
  t0: number
  dataMs: number
  startStep: number
}

/**
 * What is trained: a task head's loss, or the pre-training losses (multiple-choice QA trains the
 * classification loss over the choices on a model without a task head).
 */
function trainedHead(model: VideoBERT, data: TrainingData): Loop['head'] {
  return model.config.numLabels > 0 || data.objective === 'classify' ? 'classify' : model.config.decoderLayers > 0 ? 'caption' : 'pretrain'
}

/** Metrics logged after the resumed checkpoint by the interrupted run are about to be redone (a line the kill cut short is one of them). */
function truncateMetrics(metricsPath: string, step: number): void {
  if (!existsSync(metricsPath)) return
  const stepOf = (l: string) => {
    try {
      return (JSON.parse(l) as { step: number }).step
    } catch {
      return Infinity
    }
  }
  const keep = readFileSync(metricsPath, 'utf8')
    .split('\n')
    .filter((l) => l && stepOf(l) <= step)
  writeFileSync(metricsPath, keep.map((l) => `${l}\n`).join(''))
}

/** The training batches from a position in the seeded epochs (epochs are deterministic given the seed). */
class BatchStream {
  #iter: Iterator<Batch>
  #epoch: number
  #batchInEpoch: number

  constructor(
    private readonly data: TrainingData,
    private readonly batchSize: number,
    private readonly microBatches: number,
    epoch: number,
    batchInEpoch: number,
    private readonly part?: DataPart,
  ) {
    this.#epoch = epoch
    this.#iter = data.batches('train', batchSize, epoch, part)
    for (let i = 0; i < batchInEpoch; i++) this.#iter.next()
    this.#batchInEpoch = batchInEpoch
  }

  /** One step's micro-batches, and the data position after them. */
  prepare(): { micro: Batch[]; position: { epoch: number; batchInEpoch: number } } {
    const micro = Array.from({ length: this.microBatches }, () => this.#nextBatch())
    return { micro, position: { epoch: this.#epoch, batchInEpoch: this.#batchInEpoch } }
  }

  #nextBatch(): Batch {
    for (;;) {
      const r = this.#iter.next()
      if (!r.done) {
        this.#batchInEpoch++
        return r.value
      }
      this.#epoch++
      this.#batchInEpoch = 0
      this.#iter = this.data.batches('train', this.batchSize, this.#epoch, this.part)
      if (this.data.windows.train.length === 0) throw new VideoBertError('InvalidInput', 'the training split is empty')
    }
  }
}
