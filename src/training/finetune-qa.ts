/**
 * Fine-tuning for open-answer video question answering: a classification head over the training
 * answers on the checkpoint's encoder, reading the video and the question (`QuestionDataset`). The
 * final checkpoint's `classes.json` holds the answers and `task: 'qa'`; `answerQuestions` and
 * `videobert answer` read it.
 */
import { QuestionDataset } from '../data/questions.js'
import { evaluateQA, type QAReport } from '../eval/qa.js'
import type { VideoBERT } from '../model.js'
import type { TokenShards } from '../shards.js'
import { FINETUNE_DEFAULTS, finetuneInputs, trainHead, type HeadOptions } from './finetune.js'
import type { FitResult } from './trainer.js'

export interface FinetuneQAOptions extends HeadOptions {
  /** Token shards of the videos; their manifest records carry `questions` (see `QuestionDataset`). */
  shards: string | TokenShards
  /** Fraction of the videos held out to validate on. @default 0.1 */
  validationFraction?: number
  /** What the head reads: `[CLS]` (default), the mean of the segment outputs, or of the question's outputs. @default 'cls' */
  pooling?: 'cls' | 'segments' | 'text'
}

export interface FinetuneQAResult {
  model: VideoBERT
  /** The answer vocabulary (the head's classes). */
  answers: string[]
  /** Directory of the final checkpoint. */
  checkpoint: string
  fit: FitResult
  videos: { train: number; validation: number }
  /** Accuracy per question type on the validation videos (null when there are none). */
  validation: QAReport | null
}

export async function finetuneQA(o: FinetuneQAOptions): Promise<FinetuneQAResult> {
  const { shards, tokenizer, config, featureNorm } = await finetuneInputs(o.checkpoint, o.shards)
  const data = new QuestionDataset(shards, config, tokenizer, {
    validationFraction: o.validationFraction ?? FINETUNE_DEFAULTS.validationFraction,
    seed: o.seed ?? FINETUNE_DEFAULTS.seed,
    featureNorm,
  })
  const { fit, checkpoint } = await trainHead(o, data, { classes: data.answers, task: 'qa', labels: null, prompt: null }, o.pooling ?? 'cls', config)
  const validation = data.samples.validation.length > 0 ? await evaluateQA(fit.model, data, 'validation') : null
  return {
    model: fit.model,
    answers: data.answers,
    checkpoint,
    fit,
    videos: { train: data.videos('train').length, validation: data.videos('validation').length },
    validation,
  }
}
