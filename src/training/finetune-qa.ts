/**
 * Fine-tuning for video question answering (`QuestionDataset`). Open answers: a classification head
 * over the training answers on the checkpoint's encoder, reading the video and the question; the
 * final checkpoint's `classes.json` holds the answers and `task: 'qa'`. Multiple choice: no new head
 * — the checkpoint's matching head scores the video with "question candidate" for each choice,
 * trained with a softmax over the choices; `classes.json` says `task: 'multiple-choice'`.
 * `answerQuestions` and `videobert answer` read either.
 */

import { QuestionDataset, type QAFormat } from '../data/questions.js'
import { CLASSES_FILE } from '../files.js'
import { VideoBERT } from '../model.js'
import { evaluateQA, type QAReport } from '../eval/qa.js'
import type { TokenShards } from '../shards.js'
import { createOptions, FINETUNE_DEFAULTS, finetuneInputs, trainHead, trainTask, withoutTaskHead, writeRunFile, type ClassifierPooling, type HeadOptions } from './finetune.js'
import type { FitResult } from './trainer.js'

export interface FinetuneQAOptions extends HeadOptions {
  /** Token shards of the videos; their manifest records carry `questions` (see `QuestionDataset`). */
  shards: string | TokenShards
  /** Fraction of the videos held out to validate on. @default 0.1 */
  validationFraction?: number
  /** What the head reads: `[CLS]` (default), the mean of the segment outputs, or of the question's outputs (open answers). @default 'cls' */
  pooling?: Exclude<ClassifierPooling, 'mask'>
  /** Open answers (a head over the training answers) or multiple choice (the matching head over each question's choices). @default 'open' */
  format?: QAFormat
}

/** What `finetuneQA` returns: the model, its answers, the final checkpoint, the fit, the video counts and the validation report. */
export interface FinetuneQAResult {
  model: VideoBERT
  /** The answer vocabulary (the head's classes; empty for multiple choice). */
  answers: string[]
  /** Directory of the final checkpoint. */
  checkpoint: string
  fit: FitResult
  videos: { train: number; validation: number }
  /** Accuracy per question type on the validation videos (null when there are none). */
  validation: QAReport | null
}

/** Fine-tune a question-answering model on a pre-trained checkpoint (see the module notes), then `evaluateQA` on the validation videos. */
export async function finetuneQA(o: FinetuneQAOptions): Promise<FinetuneQAResult> {
  const { shards, tokenizer, config, featureNorm } = await finetuneInputs(o.checkpoint, o.shards)
  const seed = o.seed ?? FINETUNE_DEFAULTS.seed
  const format = o.format ?? 'open'
  const data = new QuestionDataset(shards, config, tokenizer, {
    validationFraction: o.validationFraction ?? FINETUNE_DEFAULTS.validationFraction,
    seed,
    featureNorm,
    format,
  })
  let run
  if (format === 'multiple-choice') {
    const create = createOptions(o)
    const model = o.fromScratch ? await VideoBERT.create(withoutTaskHead(config), create) : await VideoBERT.forFineTuning(o.checkpoint, create)
    const classesPath = writeRunFile(o, CLASSES_FILE, { classes: [], task: 'multiple-choice', labels: null, prompt: null })
    run = await trainTask(o, data, model, 'classifyLoss', { [CLASSES_FILE]: classesPath })
  } else {
    run = await trainHead(o, data, { classes: data.answers, task: 'qa', labels: null, prompt: null }, o.pooling ?? 'cls', config)
  }
  const { fit, checkpoint } = run
  const validation = data.samples.validation.length > 0 ? await evaluateQA(fit.model, data, 'validation') : null
  return {
    model: fit.model,
    answers: format === 'multiple-choice' ? [] : data.answers,
    checkpoint,
    fit,
    videos: { train: data.videos('train').length, validation: data.videos('validation').length },
    validation,
  }
}
