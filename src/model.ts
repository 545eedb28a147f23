/**
 * `VideoBERT`: the typed face of the native model — create, load, train, evaluate, read its heads,
 * save. Every heavy call runs on a native thread of its own and returns a promise; the event loop
 * keeps running while a step trains. It is the model only: a checkpoint with its tokenizer and
 * feature statistics, and the verbs on top (fill-mask, caption, …), is a `Pretrained`.
 */
import { checkBatch, type Batch } from './batch.js'
import { configFromJson, configToJson, resolveConfig, type ConfigInput, type VideoBertConfig } from './config.js'
import { supportUsing } from './disposable.js'
import { VideoBertError } from './errors.js'
import { createModel, guard, guardSync, loadForCaptioning, loadForClassification, loadForFineTuning, loadModel, type GeneratedCaption, type MaskPrediction, type NativeBatch, type NativeCreateOptions, type NativeVideoBert, type StepResult } from './native.js'


export type { GeneratedCaption, MaskPrediction }

export interface CreateOptions {
  /** Seeds initialisation and masking; same seed + same data + same schedule = same run (CPU). @default 0 */
  seed?: number
  /** Threads for tensor math. Leave headroom for Node when training next to other work. @default physical cores */
  numThreads?: number
  /** Parameter precision on CPU. @default 'f32' */
  dtype?: 'f32' | 'f64'
  /**
   * Where the model computes: `'cpu'`, `'cuda'` (= `'cuda:0'`) or `'cuda:N'`. CUDA needs the CUDA
   * build of the addon (`cudaBuilt()`; docs/installing.md, "GPU"); without it, or without a driver / GPU `N`,
   * creating the model fails with a `DeviceUnavailable` error. @default 'cpu'
   */
  device?: Device
  /** AdamW hyper-parameters. */
  optimizer?: {
    /** @default 0.9 */ beta1?: number
    /** @default 0.999 */ beta2?: number
    /** @default 1e-8 */ eps?: number
    /** Decoupled weight decay, not applied to biases and LayerNorm gains. @default 0.01 */ weightDecay?: number
  }
}

/** A compute device name. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`

export interface StepOptions {
  /** Learning rate of this step; the caller (or the Trainer) owns the schedule. */
  lr: number
  /** Clip the global gradient norm (of the tensors that learn) to this value; 0 disables clipping. @default 1 */
  maxGradNorm?: number
  /**
   * Layer-wise learning-rate decay in (0, 1] (fine-tuning): the task head learns at `lr`, encoder
   * layer i of L at `lr · layerDecay^(L − i)`, the embeddings at `lr · layerDecay^(L + 1)`. @default 1
   */
  layerDecay?: number
  /** Multiplier in [0, 1] on the rate of everything but the task head; 0 freezes the encoder. @default 1 */
  encoderLrScale?: number
}

export interface EvaluateOptions {
  /** Seed of the evaluation masks. @default the model's seed */
  maskSeed?: number
}

export type { StepResult }

/** Encoder outputs of a batch, row-major (H = hiddenSize, T = maxSegments). */
export interface Embeddings {
  /** `[B, H]` at `[CLS]` (reads text and video). */
  cls: Float32Array
  /** `[B, H]` mean over the valid text tokens (zeros for an empty text). */
  text: Float32Array
  /** `[B, H]` mean over the valid segment tokens (zeros when the video mask is all 0). */
  video: Float32Array
  /** `[B, T, H]` every segment token (padding included: see the batch's `videoMask`). */
  segments: Float32Array
}

export interface ClassifierOptions {
  /** Number of classes (≥ 2). */
  numLabels: number
  /**
   * What the head reads: `[CLS]`, the mean of the segment outputs, or of the text outputs — or
   * `'mask'`: no new head, class c is the masked-language-model logit of `words[c]` at the last
   * `[MASK]` of the text (prompt-based classification; give the batches a prompt). @default 'cls'
   */
  pooling?: 'cls' | 'segments' | 'text' | 'mask'
  /** With `pooling: 'mask'`: the word-piece id of each class, in class order (`numLabels` of them). */
  words?: number[]
}

export interface CaptionerOptions {
  /** Layers of the new caption decoder. @default 2 */
  decoderLayers?: number
  /** Label smoothing ε of the captioning loss. @default 0.1 */
  labelSmoothing?: number
}

/** How `generateCaptions` searches. */
export interface GenerateOptions {
  /** `'greedy'` (the most probable word piece at each step) or `'beam'`. @default 'greedy' */
  strategy?: 'greedy' | 'beam'
  /** Live hypotheses per video (beam); beam 1 is greedy. @default 4 */
  beamSize?: number
  /** Fewest word pieces before `[SEP]`. @default 1 */
  minLength?: number
  /** Most word pieces (≤ maxTextLen). @default maxTextLen */
  maxLength?: number
  /** α: finished beams are ranked by log P / (length + 1)^α. @default 1 */
  lengthPenalty?: number
  /** Never repeat an n-gram of this size (0 = off). @default 0 */
  noRepeatNgram?: number
  /** Word-piece ids never written (besides [PAD], [CLS], [MASK]), e.g. `[UNK]`. @default none */
  banned?: number[]
}

function nativeOptions(o: CreateOptions = {}): NativeCreateOptions {
  if (o.numThreads !== undefined && (!Number.isInteger(o.numThreads) || o.numThreads <= 0)) {
    throw new VideoBertError('InvalidConfig', `invalid config field \`numThreads\`: must be a positive integer, got ${o.numThreads}`)
  }
  return {
    seed: o.seed,
    numThreads: o.numThreads,
    dtype: o.dtype,
    device: o.device,
    beta1: o.optimizer?.beta1,
    beta2: o.optimizer?.beta2,
    eps: o.optimizer?.eps,
    weightDecay: o.optimizer?.weightDecay,
  }
}

export class VideoBERT {
  readonly #native: NativeVideoBert
  /** The complete model config. */
  readonly config: Readonly<VideoBertConfig>
  /** The options it was created or loaded with (the Trainer reloads checkpoints with them). */
  readonly options: Readonly<CreateOptions>

  private constructor(native: NativeVideoBert, options: CreateOptions) {
    this.#native = native
    this.config = Object.freeze(configFromJson(native.configJson))
    this.options = Object.freeze({ ...options })
  }

  /**
   * A freshly initialised model from a preset name or a partial config on top of a preset
   * (`{ preset: 'tiny', numRegions: 0 }`).
   */
  static async create(config: ConfigInput = 'small', options: CreateOptions = {}): Promise<VideoBERT> {
    const resolved = resolveConfig(config)
    const opts = nativeOptions(options)
    return new VideoBERT(await guard(() => createModel(configToJson(resolved), opts)), options)
  }

  /** Load a checkpoint directory (`model.safetensors`, `optimizer.safetensors`, `config.json`). */
  static async load(dir: string, options: CreateOptions = {}): Promise<VideoBERT> {
    const opts = nativeOptions(options)
    return new VideoBERT(await guard(() => loadModel(dir, opts)), options)
  }

  /**
   * A classifier initialised from a pre-trained checkpoint: the encoder is loaded, a new
   * classification head of `numLabels` classes is initialised from `options.seed` (with `pooling:
   * 'mask'` the pre-trained masked-language-model head is the classifier), and the optimizer
   * starts at step 0. Train it with labelled batches (`Batch.labels`); `VideoBERT.load` reloads it.
   */
  static async forClassification(dir: string, head: ClassifierOptions, options: CreateOptions = {}): Promise<VideoBERT> {
    const { numLabels, pooling = 'cls' } = head
    if (!Number.isInteger(numLabels) || numLabels < 2) {
      throw new VideoBertError('InvalidConfig', `invalid config field \`numLabels\`: a classifier needs an integer >= 2, got ${numLabels}`)
    }
    const opts = nativeOptions(options)
    return new VideoBERT(await guard(() => loadForClassification(dir, numLabels, pooling, opts, head.words)), options)
  }

  /**
   * A captioner initialised from a pre-trained checkpoint: the encoder is loaded, a new caption
   * decoder (`decoderLayers`, label smoothing `labelSmoothing`) is initialised from `options.seed`,
   * and the optimizer starts at step 0. Train it with captioned batches (`Batch.captionIds`);
   * `VideoBERT.load` reloads it, `generateCaptions` writes with it.
   */
  static async forCaptioning(dir: string, head: CaptionerOptions = {}, options: CreateOptions = {}): Promise<VideoBERT> {
    const { decoderLayers = 2, labelSmoothing = 0.1 } = head
    if (!Number.isInteger(decoderLayers) || decoderLayers < 1 || decoderLayers > 64) {
      throw new VideoBertError('InvalidConfig', `invalid config field \`decoderLayers\`: a captioner needs an integer in [1, 64], got ${decoderLayers}`)
    }
    const opts = nativeOptions(options)
    return new VideoBERT(await guard(() => loadForCaptioning(dir, decoderLayers, labelSmoothing, opts)), options)
  }

  /**
   * A checkpoint's weights for fine-tuning without a task head — multiple-choice question answering
   * trains the matching head: the encoder and pre-training heads are loaded (a classification head or
   * caption decoder in the checkpoint is dropped) and, unlike `load`, the optimizer starts afresh at
   * step 0 (seeded by `options.seed`).
   */
  static async forFineTuning(dir: string, options: CreateOptions = {}): Promise<VideoBERT> {
    const opts = nativeOptions(options)
    return new VideoBERT(await guard(() => loadForFineTuning(dir, opts)), options)
  }

  /** The device it computes on: `'cpu'` or `'cuda:N'`. */
  get device(): Device {
    return this.#native.device as Device
  }

  /** Number of trainable scalars. */
  get numParameters(): number {
    return this.#native.numParameters
  }

  /** Optimizer updates applied so far. */
  get step(): number {
    return this.#native.step
  }

  /**
   * Free the native weights, optimizer state and thread pool now, instead of whenever the garbage
   * collector gets to this object (a server that loads models in turn, a test that makes many).
   * Calls already running finish first; every call after it rejects with a `Disposed` error.
   * Calling it again does nothing. `await using model = await VideoBERT.load(dir)` disposes at the
   * end of the block.
   */
  async dispose(): Promise<void> {
    return guard(() => this.#native.dispose())
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#native.disposed
  }

  /**
   * One optimizer step. Pass several micro-batches to accumulate gradients over them (their losses
   * and gradients are averaged) before the single update.
   */
  async trainStep(batches: Batch | Batch[], options: StepOptions): Promise<StepResult> {
    const list = this.#checked(batches)
    // lr and maxGradNorm are checked (and maxGradNorm defaulted) once, by the native step.
    return guard(() => this.#native.trainStep(list, { lr: options?.lr, maxGradNorm: options?.maxGradNorm, layerDecay: options?.layerDecay, encoderLrScale: options?.encoderLrScale }))
  }

  /**
   * Train data-parallel over the process's group from the next step on (`startDistributed`): a
   * collective call, checking that every rank holds the same seed, step and parameters. Every
   * `checkEvery` steps (0 = never) the ranks compare their parameters. @default checkEvery 100
   */
  joinDataParallel(checkEvery?: number): void {
    guardSync(() => this.#native.joinDataParallel(checkEvery))
  }

  /** Losses without an update, with deterministic masks. */
  async evaluate(batches: Batch | Batch[], options: EvaluateOptions = {}): Promise<StepResult> {
    const list = this.#checked(batches)
    return guard(() => this.#native.evaluate(list, { maskSeed: options.maskSeed }))
  }

  /** Probability that each sample's caption belongs to its video (the video-text matching head). */
  async scoreMatch(batch: Batch): Promise<Float32Array> {
    const [b] = this.#checked(batch)
    return guard(() => this.#native.matchScores(b!))
  }

  /**
   * The matching head's log-odds that each sample's caption belongs to its video (logit of "match"
   * minus logit of "no match"): what multiple-choice answering compares across a question's candidates.
   */
  async matchLogits(batch: Batch): Promise<Float32Array> {
    const [b] = this.#checked(batch)
    return guard(() => this.#native.matchLogits(b!))
  }

  /**
   * For every `[MASK]` token (`config.maskTokenId`) in the batch's texts, the `topK` most probable
   * words with their probabilities, conditioned on the video.
   */
  async predictMasked(batch: Batch, options: { topK?: number } = {}): Promise<MaskPrediction[]> {
    const [b] = this.#checked(batch)
    const topK = options.topK ?? 5
    if (!Number.isInteger(topK) || topK <= 0) throw new VideoBertError('InvalidInput', `invalid input \`topK\`: must be a positive integer, got ${topK}`)
    return guard(() => this.#native.predictMasked(b!, topK))
  }

  /**
   * `log P(id | video, text)` of given word-piece ids at every `[MASK]` token of the batch's texts
   * (in batch order: sample by sample, positions ascending — the order of `predictMasked`).
   * `ids[m * perMask + j]` is the j-th id asked about at the m-th mask; the result has the same
   * layout. Only these numbers come back from the native side, not the whole distribution: scoring
   * a caption's pieces or a few candidate words costs the same at a 30 000-piece vocabulary as at 70.
   */
  async maskLogProbs(batch: Batch, ids: Uint32Array | number[], perMask = 1): Promise<Float32Array> {
    const [b] = this.#checked(batch)
    if (!Number.isInteger(perMask) || perMask <= 0) throw new VideoBertError('InvalidInput', `invalid input \`perMask\`: must be a positive integer, got ${perMask}`)
    const flat = ids instanceof Uint32Array ? ids : Uint32Array.from(ids)
    return guard(() => this.#native.maskLogProbs(b!, flat, perMask))
  }

  /**
   * Each pre-training loss's share of the gradient on `batch`: the global norm of the gradient of
   * each weighted term, masked as the next step would mask it (three backward passes; no update).
   * The Trainer's health report uses it.
   */
  async lossGradNorms(batch: Batch): Promise<{ mlm: number; video: number; vtm: number }> {
    const [b] = this.#checked(batch)
    return guard(() => this.#native.lossGradNorms(b!))
  }

  /**
   * Encoder outputs, nothing masked. For a video-only embedding give an empty text (all padding);
   * for a text-only one, a `videoMask` of zeros.
   */
  async embed(batch: Batch): Promise<Embeddings> {
    const [b] = this.#checked(batch)
    return guard(() => this.#native.embed(b!))
  }

  /** Class probabilities `[B, numLabels]` (row-major) from the classification head. */
  async classify(batch: Batch): Promise<Float32Array> {
    if (this.config.numLabels === 0) throw new VideoBertError('InvalidInput', 'invalid input `model`: the model has no classification head (numLabels = 0)')
    const [b] = this.#checked(batch)
    return guard(() => this.#native.classify(b!))
  }

  /**
   * One caption per sample from the caption decoder (a model with `decoderLayers > 0`): the encoder
   * reads each sample as given (usually the video with an empty text), the decoder writes left to
   * right from `[CLS]` until `[SEP]`.
   */
  async generateCaptions(batch: Batch, options: GenerateOptions = {}): Promise<GeneratedCaption[]> {
    if (this.config.decoderLayers === 0) {
      throw new VideoBertError('InvalidInput', 'invalid input `model`: the model has no caption decoder (decoderLayers = 0); fine-tune one with `videobert finetune --task caption`')
    }
    const [b] = this.#checked(batch)
    const o = {
      strategy: options.strategy ?? 'greedy',
      beamSize: options.beamSize ?? 4,
      minLength: options.minLength ?? 1,
      maxLength: options.maxLength ?? this.config.maxTextLen,
      lengthPenalty: options.lengthPenalty ?? 1,
      noRepeatNgram: options.noRepeatNgram ?? 0,
      banned: options.banned ? Uint32Array.from(options.banned) : undefined,
    }
    for (const k of ['beamSize', 'minLength', 'maxLength', 'noRepeatNgram'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 0) throw new VideoBertError('InvalidInput', `invalid input \`${k}\`: must be a non-negative integer, got ${o[k]}`)
    }
    return guard(() => this.#native.generateCaptions(b!, o))
  }

  /** Write the checkpoint files into `dir` (created if needed). */
  async save(dir: string): Promise<void> {
    return guard(() => this.#native.save(dir))
  }

  #checked(batches: Batch | Batch[]): NativeBatch[] {
    const list = Array.isArray(batches) ? batches : [batches]
    if (list.length === 0) throw new VideoBertError('InvalidInput', 'invalid input `batches`: at least one micro-batch is required')
    for (const b of list) checkBatch(b, this.config)
    return list
  }
}

supportUsing(VideoBERT.prototype, 'async')
