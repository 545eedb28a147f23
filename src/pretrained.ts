/**
 * `Pretrained`: a checkpoint ready to use — the model together with everything its training data
 * went through (text tokenizer, feature standardisation, video-tokenizer settings; a fine-tuned
 * classifier's classes and prompt), all read from the checkpoint directory the Trainer wrote. Its
 * methods are the verbs of `videobert fill-mask | embed | retrieve | caption | classify`; each is
 * also a function taking the same context (`fillMask(pretrained, …)`). The model (`VideoBERT`) knows
 * nothing of this layer, as transformers.js keeps models apart from pipelines.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import { VideoTextDataset } from './data/dataset.js'
import { loadFeatureNorm, type FeatureNorm } from './data/feature-norm.js'
import { supportUsing } from './disposable.js'
import { VideoBertError } from './errors.js'
import { retrieve, type Direction, type RetrievalOptions, type RetrievalResult } from './eval/retrieval.js'
import { CLASSES_FILE, CODEBOOK_FILE, FEATURE_NORM_FILE, TOKENIZER_FILE, VIDEO_TOKENIZER_FILE } from './files.js'
import { VideoBERT, type CreateOptions } from './model.js'
import { Codebook } from './codebook.js'
import { TextTokenizer } from './vocab.js'
import { TokenShards } from './shards.js'
import { VideoTokenizer, type TokenizeOptions } from './video-tokenizer.js'
import { answerQuestions, type Answer, type QuestionInput } from './inference/answer.js'
import { captionVideos, type Caption, type CaptionOptions } from './inference/caption.js'
import { classifyVideos, type ClassPrediction } from './inference/classify.js'
import { videoInput, type InferenceContext, type VideoTokens } from './inference/context.js'
import { embedTexts, embedVideos, type EmbedOptions, type VideoEmbedding } from './inference/embed.js'
import { fillMask, type FillMaskBlank, type FillMaskOptions } from './inference/fill-mask.js'
import { retrieveMoments, shardMoments, timeRange, type Moment, type MomentOptions, type TimedTokens } from './inference/moments.js'

/** A time range of a video, seconds from its first frame (`fillMask`, `caption`). */
export interface TimeRange {
  /** @default 0 */
  start?: number
  /** @default the video's end */
  end?: number
}

/** A video for the verbs: a file path (tokenized as the checkpoint's data was) or its tokens. */
export type VideoSource = string | VideoTokens

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch (err) {
    throw new VideoBertError('Checkpoint', `${path}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * A checkpoint ready to use (see the module notes): `Pretrained.load(dir)`, then its verbs —
 * `fillMask`, `embedVideos`, `embedTexts`, `caption`, `retrieve`, `answer`, `classifyVideos`.
 */
export class Pretrained implements InferenceContext {
  private constructor(
    readonly model: VideoBERT,
    readonly tokenizer: TextTokenizer,
    readonly featureNorm: FeatureNorm | null,
    readonly videoTokenizer: TokenizeOptions | null,
    readonly classes: string[] | null,
    readonly prompt: string | null,
    readonly task: 'classify' | 'qa' | 'multiple-choice',
    /** The visual-word codebook of a model that reads visual words (new videos get their words from it). */
    readonly codebook: Codebook | null,
  ) {}

  /** Load a checkpoint directory written by the Trainer (or `model.save` plus `tokenizer.json`). */
  static async load(dir: string, options: CreateOptions = {}): Promise<Pretrained> {
    const tokenizerPath = join(dir, TOKENIZER_FILE)
    if (!existsSync(tokenizerPath)) throw new VideoBertError('Checkpoint', `${dir}: no ${TOKENIZER_FILE} (inference needs the text vocabulary)`)
    const model = await VideoBERT.load(dir, options)
    const normPath = join(dir, FEATURE_NORM_FILE)
    const videoPath = join(dir, VIDEO_TOKENIZER_FILE)
    const videoTokenizer = existsSync(videoPath) ? readJson<TokenizeOptions>(videoPath) : null
    const classesPath = join(dir, CLASSES_FILE)
    let classes: string[] | null = null
    let prompt: string | null = null
    let task: 'classify' | 'qa' | 'multiple-choice' = 'classify'
    if (existsSync(classesPath)) {
      let t: unknown
      ;({ classes, prompt = null, task: t = 'classify' } = readJson<{ classes: string[]; prompt?: string | null; task?: unknown }>(classesPath))
      if (t !== 'classify' && t !== 'qa' && t !== 'multiple-choice') throw new VideoBertError('Checkpoint', `${classesPath}: unknown task ${JSON.stringify(t)} (classify, qa or multiple-choice)`)
      task = t
      if (task === 'multiple-choice') {
        if (model.config.numLabels > 0 || model.config.decoderLayers > 0) throw new VideoBertError('Checkpoint', `${classesPath}: a multiple-choice model has no classification head or decoder`)
        classes = null
      } else if (!Array.isArray(classes) || classes.length !== model.config.numLabels) {
        throw new VideoBertError('Checkpoint', `${classesPath}: expected ${model.config.numLabels} class names (the model's numLabels)`)
      }
    }
    const codebookPath = join(dir, CODEBOOK_FILE)
    const codebook = existsSync(codebookPath) ? await Codebook.load(codebookPath) : null
    if (model.config.videoInput === 'visual_words' && codebook === null) throw new VideoBertError('Checkpoint', `${dir}: the model reads visual words but the checkpoint has no ${CODEBOOK_FILE}`)
    return new Pretrained(model, TextTokenizer.load(tokenizerPath), existsSync(normPath) ? loadFeatureNorm(normPath) : null, videoTokenizer, classes, prompt, task, codebook)
  }

  /**
   * Tokens of a video: tokenized like the checkpoint's training data when given as a path (and its
   * segments given their visual words when the model reads them).
   */
  async tokens(video: VideoSource): Promise<VideoTokens> {
    if (typeof video !== 'string') return video
    const tokens: VideoTokens = await new VideoTokenizer(this.videoTokenizer ?? {}).tokenizeFile(video)
    if (this.codebook && this.model.config.videoInput === 'visual_words') tokens.visualWords = await this.codebook.assign(tokens.pooled)
    return tokens
  }

  async #allTokens(videos: VideoSource[]): Promise<VideoTokens[]> {
    const out: VideoTokens[] = []
    for (const v of videos) out.push(await this.tokens(v))
    return out
  }

  /** A video's tokens with their segment times, cut to `range` when one is given. */
  async #timed(video: string | TimedTokens, range?: TimeRange): Promise<TimedTokens> {
    if (typeof video !== 'string' && !('starts' in video)) throw new VideoBertError('InvalidInput', "a time range or moments need the video's segment times: give its path, or a TokenizedVideo")
    const t = typeof video === 'string' ? ((await this.tokens(video)) as TimedTokens) : video
    return range && (range.start !== undefined || range.end !== undefined) ? timeRange(t, range.start, range.end) : t
  }

  /**
   * Predict every `[MASK]` of the prompt from the video (see `fillMask`) — from the segments of
   * `options.start`..`options.end` seconds only, when given.
   */
  async fillMask(video: VideoSource, prompt: string, options: FillMaskOptions & TimeRange = {}): Promise<FillMaskBlank[]> {
    const tokens = options.start !== undefined || options.end !== undefined ? await this.#timed(video as string | TimedTokens, options) : await this.tokens(video)
    return fillMask(this, tokens, prompt, options)
  }

  /**
   * Where in long videos each query is said or shown: the best moments (video, start, end, score) of
   * `videos` — files (tokenized as the checkpoint's data was), tokenized videos with segment times,
   * or a shard set (see `retrieveMoments`). `id` is the file path, or the shard record's id.
   */
  async retrieveMoments(query: string | string[], videos: (string | TimedTokens)[] | TokenShards, options: MomentOptions = {}): Promise<{ query: string; moments: (Moment & { id: string })[] }[]> {
    const queries = typeof query === 'string' ? [query] : query
    let tokens: TimedTokens[]
    let ids: string[]
    if (videos instanceof TokenShards) {
      tokens = Array.from({ length: videos.length }, (_, i) => shardMoments(videos, i))
      ids = Array.from({ length: videos.length }, (_, i) => videos.video(i).id)
    } else {
      tokens = []
      for (const v of videos) tokens.push(await this.#timed(v))
      ids = videos.map((v, i) => (typeof v === 'string' ? v : String(i)))
    }
    const found = await retrieveMoments(this, queries, tokens, options)
    return found.map((q) => ({ query: q.query, moments: q.moments.map((m) => ({ ...m, id: ids[m.video]! })) }))
  }

  /** Video embeddings (see `embedVideos`). */
  async embedVideos(videos: VideoSource[], options: EmbedOptions = {}): Promise<VideoEmbedding[]> {
    return embedVideos(this, await this.#allTokens(videos), options)
  }

  /** Text embeddings (see `embedTexts`). */
  async embedTexts(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return embedTexts(this, texts, options)
  }

  /**
   * One caption per video — of its first window, or of `options.start`..`options.end` seconds — by
   * the fine-tuned caption decoder when the checkpoint has one, else by iterative masked decoding
   * (see `captionVideos`).
   */
  async caption(videos: VideoSource[], options: CaptionOptions & TimeRange = {}): Promise<Caption[]> {
    const ranged = options.start !== undefined || options.end !== undefined
    const tokens: VideoTokens[] = []
    for (const v of videos) tokens.push(ranged ? await this.#timed(v as string | TimedTokens, options) : await this.tokens(v))
    return captionVideos(this, tokens.map((t) => videoInput(this, t)), options)
  }

  /** Ranking over a tokenized set, with metrics against its captions (see `retrieve`). */
  async retrieve(shards: string | TokenShards, direction: Direction = 'text-to-video', options: RetrievalOptions = {}): Promise<RetrievalResult> {
    const set = typeof shards === 'string' ? await TokenShards.open(shards) : shards
    const data = new VideoTextDataset(set, this.model.config, this.tokenizer, { validationFraction: 1, featureNorm: this.featureNorm ?? 'none' })
    return retrieve(this.model, data, 'validation', direction, options)
  }

  /** Answers to questions about one video, for a fine-tuned question-answering model (see `answerQuestions`). */
  async answer(video: VideoSource, questions: QuestionInput[]): Promise<Answer[]> {
    return answerQuestions(this, await this.tokens(video), questions)
  }

  /** Class probabilities of each video, for a fine-tuned classifier (see `classifyVideos`). */
  async classifyVideos(videos: VideoSource[]): Promise<ClassPrediction[]> {
    return classifyVideos(this, await this.#allTokens(videos))
  }

  /**
   * Free the model's native memory and the tokenizer's and codebook's now (see `VideoBERT.dispose`);
   * every later call rejects with a `Disposed` error. `await using p = await Pretrained.load(dir)`.
   */
  async dispose(): Promise<void> {
    this.tokenizer.dispose()
    this.codebook?.dispose()
    await this.model.dispose()
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.model.disposed
  }
}

supportUsing(Pretrained.prototype, 'async')

/** `Pretrained.load`. */
export function loadPretrained(dir: string, options: CreateOptions = {}): Promise<Pretrained> {
  return Pretrained.load(dir, options)
}
