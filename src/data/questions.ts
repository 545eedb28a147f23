/**
 * Video question answering data: questions about a video in its manifest record, as
 * `"questions": [{ "question": "what colour is the shape?", "answer": "red", "type": "colour",
 * "choices": ["red", "green", "blue"] }]` (`type` and `choices` optional). Open-answer QA is a
 * classification over the training answers' vocabulary: every window of a video is paired with
 * each of its questions as the text (the caption is never shown), and the label is the answer.
 * Multiple-choice QA (`format: 'multiple-choice'`, every question with `choices`) pairs the window
 * with "question candidate" for each candidate — K rows per question, scored by the matching head
 * and trained with a softmax over them; the label is the right candidate's index.
 */
import { takePart, unreadablePart, type DataPart } from '../distributed.js'
import type { Batch } from '../batch.js'
import type { VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import type { TextTokenizer } from '../vocab.js'
import type { TokenShards, VideoRecord } from '../shards.js'
import type { DatasetOptions, Split, Window } from './dataset.js'
import { WindowedDataset } from './windowed.js'

/** One question about a video, as its manifest record gives it (trimmed and checked by `questionsOf`). */
export interface VideoQuestion {
  question: string
  answer: string
  /** The question's kind, for per-type accuracy (e.g. 'colour'). @default 'all' */
  type: string
  /** Candidate answers (multiple choice); the answer must be one of them. */
  choices?: string[]
}

/** The manifest field questions are read from. */
export const QUESTIONS_FIELD = 'questions'

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== ''

/** The questions of one video record (none when it has no `questions` field); malformed ones are coded errors. */
export function questionsOf(record: VideoRecord): VideoQuestion[] {
  const raw = record.metadata?.[QUESTIONS_FIELD]
  if (raw === undefined || raw === null) return []
  const where = `video '${record.id}': ${QUESTIONS_FIELD}`
  if (!Array.isArray(raw)) throw new VideoBertError('InvalidInput', `${where} must be a list of { question, answer, type?, choices? }`)
  return raw.map((q: unknown, i) => {
    const item = q as Record<string, unknown> | null
    if (item === null || typeof item !== 'object' || !nonEmpty(item.question) || (!nonEmpty(item.answer) && typeof item.answer !== 'number')) {
      throw new VideoBertError('InvalidInput', `${where}[${i}] needs a question and an answer`)
    }
    const answer = String(item.answer).trim()
    const out: VideoQuestion = { question: item.question.trim(), answer, type: nonEmpty(item.type) ? item.type : 'all' }
    if (item.choices !== undefined) {
      if (!Array.isArray(item.choices) || item.choices.length < 2 || !item.choices.every((c) => nonEmpty(c) || typeof c === 'number')) {
        throw new VideoBertError('InvalidInput', `${where}[${i}].choices must list at least 2 answers`)
      }
      out.choices = item.choices.map((c) => String(c).trim())
      if (!out.choices.includes(answer)) {
        throw new VideoBertError('InvalidInput', `${where}[${i}]: the answer '${answer}' is not among its choices [${out.choices.join(', ')}]`)
      }
    }
    return out
  })
}

/** Word-piece ids of a question; longer than the model reads is a coded error, never a silent cut. */
export function encodeQuestion(tokenizer: TextTokenizer, config: Pick<VideoBertConfig, 'maxTextLen'>, question: string, where = 'the question'): Uint32Array {
  const ids = tokenizer.encode(question, 4096)
  if (ids.length === 0) throw new VideoBertError('InvalidInput', `${where} is empty`)
  if (ids.length > config.maxTextLen) {
    throw new VideoBertError('InvalidInput', `${where} '${question}' is ${ids.length} word pieces long; the model reads at most maxTextLen = ${config.maxTextLen}`)
  }
  return ids
}

/** Word-piece ids of "question candidate" for each candidate (multiple choice); too long is a coded error. */
export function encodeChoices(tokenizer: TextTokenizer, config: Pick<VideoBertConfig, 'maxTextLen'>, question: string, choices: string[], where = 'the question'): Uint32Array[] {
  return choices.map((c) => encodeQuestion(tokenizer, config, `${question} ${c}`, `${where} with its choice '${c}'`))
}

/** One training or validation sample: a window and one question of its video. */
export interface QuestionSample {
  w: Window
  /** Index of the question in its video's list. */
  question: number
  ids: Uint32Array
  /**
   * Open answers: index into `answers`, -1 for a validation answer no training question has (always
   * wrong). Multiple choice: the index of the answer among the question's choices.
   */
  answer: number
  type: string
  /** Multiple choice: "question candidate" word pieces per candidate (the rows the sample becomes). */
  choices?: Uint32Array[]
}

/** `'open'`: a classification over the training answers; `'multiple-choice'`: the matching head scores each of the question's choices. */
export type QAFormat = 'open' | 'multiple-choice'

/** The answer vocabulary and the format of a `QuestionDataset`; the rest as `DatasetOptions`. */
export interface QuestionDatasetOptions extends Omit<DatasetOptions, 'negatives' | 'windows'> {
  /** The answer vocabulary in head order (a fine-tuned model's; open answers). @default the sorted distinct training answers */
  answers?: string[]
  /** @default 'open' */
  format?: QAFormat
}

/**
 * Question-answering data over a shard set (see the module notes): the windows of videos with
 * questions, one sample per window and question, and seeded epochs of batches.
 */
export class QuestionDataset extends WindowedDataset {
  /** What a model trained on it learns (the Trainer's `TrainingData`): a classifier over `answers`. */
  readonly objective = 'classify' as const
  /** The answer vocabulary: the sorted distinct answers of the training questions (or the `answers` option). */
  readonly answers: string[]
  readonly format: QAFormat
  readonly samples: Record<Split, QuestionSample[]> = { train: [], validation: [] }
  /** Each video's questions (by shard index). */
  readonly questions = new Map<number, VideoQuestion[]>()

  constructor(
    readonly shards: TokenShards,
    readonly config: VideoBertConfig,
    tokenizer: TextTokenizer,
    options: QuestionDatasetOptions = {},
  ) {
    const { answers, format = 'open', ...rest } = options
    super(shards, config, tokenizer, rest)
    if (format !== 'open' && format !== 'multiple-choice') throw new VideoBertError('InvalidConfig', `invalid config field \`format\`: 'open' or 'multiple-choice', got '${String(format)}'`)
    this.format = format
    const encoded = new Map<number, Uint32Array[]>()
    const choiceIds = new Map<number, Uint32Array[][]>()
    for (let v = 0; v < shards.length; v++) {
      const rec = shards.video(v)
      const qs = questionsOf(rec)
      if (qs.length === 0) continue
      this.questions.set(v, qs)
      encoded.set(
        v,
        qs.map((q, i) => encodeQuestion(tokenizer, config, q.question, `video '${rec.id}': question ${i}`)),
      )
      if (format === 'multiple-choice') {
        choiceIds.set(
          v,
          qs.map((q, i) => {
            if (!q.choices) throw new VideoBertError('InvalidInput', `video '${rec.id}': question ${i} ('${q.question}') has no choices; multiple-choice QA needs \`choices\` on every question`)
            return encodeChoices(tokenizer, config, q.question, q.choices, `video '${rec.id}': question ${i}`)
          }),
        )
      }
    }
    if (this.questions.size === 0) throw new VideoBertError('InvalidInput', `no video of the shard set has \`${QUESTIONS_FIELD}\` in its manifest record`)
    const trainAnswers = this.base.videos.train.flatMap((v) => (this.questions.get(v) ?? []).map((q) => q.answer))
    this.answers = answers ? answers.slice() : [...new Set(trainAnswers)].sort()
    if (this.answers.length < 2 && format === 'open') throw new VideoBertError('InvalidInput', `question answering needs at least 2 distinct answers; got ${JSON.stringify(this.answers)}`)
    const index = new Map(this.answers.map((a, i) => [a, i]))
    for (const split of ['train', 'validation'] as const) {
      this.windows[split] = this.base.windows[split].filter((w) => this.questions.has(w.video))
      for (const w of this.windows[split]) {
        this.questions.get(w.video)!.forEach((q, i) => {
          const ids = encoded.get(w.video)![i]!
          if (format === 'multiple-choice') {
            this.samples[split].push({ w, question: i, ids, answer: q.choices!.indexOf(q.answer), type: q.type, choices: choiceIds.get(w.video)![i]! })
          } else {
            this.samples[split].push({ w, question: i, ids, answer: index.get(q.answer) ?? -1, type: q.type })
          }
        })
      }
    }
  }


  /**
   * Batches of one epoch (training samples shuffled, seeded by epoch); open answers outside the
   * vocabulary are left out. Multiple choice: `batchSize` questions per batch, each batch of questions
   * with the same number of choices.
   */
  *batches(split: Split, batchSize: number, epoch = 0, part?: DataPart): Generator<Batch> {
    const known = this.samples[split].filter((s) => s.answer >= 0)
    const order = this.epochOrder(known, split, epoch, 5)
    const pending = new Map<number, QuestionSample[]>()
    // A data-parallel rank collates its share of each batch's questions (none: every rank skips it).
    const flush = (group: QuestionSample[]) => {
      const mine = takePart(group, part)
      if (!mine) return null
      const batch = this.collate(mine).batch
      if (!batch && part) throw unreadablePart(part)
      return batch
    }
    for (const s of order) {
      const k = s.choices?.length ?? 0
      const group = pending.get(k) ?? []
      group.push(s)
      pending.set(k, group)
      if (group.length === batchSize) {
        pending.delete(k)
        const batch = flush(group)
        if (batch) yield batch
      }
    }
    for (const group of pending.values()) {
      const batch = flush(group)
      if (batch) yield batch
    }
  }

  /**
   * The batch of samples and the samples kept. Open answers: each window with its question as the
   * text, the answer as the label. Multiple choice: K rows per sample (the window with "question
   * candidate"), `numChoices` K and the right candidate as the label (every sample with K choices).
   */
  collate(samples: QuestionSample[]): { batch: Batch | null; kept: QuestionSample[] } {
    if (this.format === 'multiple-choice') {
      const k = samples[0]?.choices?.length ?? 0
      if (samples.some((s) => s.choices?.length !== k)) throw new VideoBertError('InvalidInput', 'a multiple-choice batch needs the same number of choices for every question')
      const items = samples.flatMap((s) => s.choices!.map((text) => ({ w: s.w, text, label: 1, sample: s })))
      const { batch, kept } = this.base.collateKept(items)
      if (!batch) return { batch: null, kept: [] }
      // A sample whose video could not be read drops all its rows together (they share the window).
      const samplesKept = kept.filter((_, i) => i % k === 0).map((it) => it.sample)
      delete batch.vtmLabels
      batch.numChoices = k
      batch.labels = Uint32Array.from(samplesKept, (s) => s.answer)
      return { batch, kept: samplesKept }
    }
    const items = samples.map((s) => ({ w: s.w, text: s.ids, label: 1, sample: s }))
    const { batch, kept } = this.base.collateKept(items)
    if (batch) batch.labels = Uint32Array.from(kept, (it) => Math.max(0, it.sample.answer))
    return { batch, kept: kept.map((it) => it.sample) }
  }
}
