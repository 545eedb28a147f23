/**
 * The demo's question-answering experiment (`videobert demo --downstream`): QA (`finetuneQA`) on the
 * training clips' questions — "what colour", "what shape", "which way", each with every value of
 * its attribute as the choices — in both formats, open answers and multiple choice, from the
 * pre-trained checkpoint and, with the same data, steps, schedule and seeds, from random
 * initialisation; accuracy per question type on the held-out test clips (mean over seeds) against
 * chance (a uniform guess among the choices) and the majority answer.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'

import { FEATURE_NORM_FILE, loadFeatureNorm } from '../data/feature-norm.js'
import { QuestionDataset, type QAFormat } from '../data/questions.js'
import { evaluateQA } from '../eval/qa.js'
import type { Device } from '../model.js'
import { TextTokenizer } from '../vocab.js'
import { TokenShards } from '../shards.js'
import { FINETUNE_DEFAULTS } from '../training/finetune.js'
import { finetuneQA } from '../training/finetune-qa.js'

export interface DemoQAOptions {
  checkpoint: string
  /** Shards of the training clips and of the test clips (their manifests carry `questions`). */
  train: string
  test: string
  /** Where the fine-tuning runs go (one directory per run). */
  out: string
  /** @default [0, 1, 2] */
  seeds?: number[]
  /** @default FINETUNE_DEFAULTS.steps (300) */
  steps?: number
  threads?: number
  device?: Device
  log?: (line: string) => void
  signal?: AbortSignal
}

export interface DemoQAResult {
  settings: { steps: number; lr: number; batchSize: number; seeds: number[] }
  /** Per format, seed and arm: test accuracy per question type. */
  rows: { format: QAFormat; seed: number; arm: 'pretrained' | 'scratch'; accuracy: number; perType: Record<string, number> }[]
  /** Per format and question type: mean test accuracy of each arm over the seeds, chance and the majority answer's accuracy. */
  summary: Record<QAFormat, Record<string, { pretrained: number; scratch: number; chance: number; majority: number; questions: number }>>
}

export async function demoQuestionAnswering(o: DemoQAOptions): Promise<DemoQAResult> {
  const seeds = o.seeds ?? [0, 1, 2]
  const settings = { steps: o.steps ?? FINETUNE_DEFAULTS.steps, lr: FINETUNE_DEFAULTS.lr, batchSize: FINETUNE_DEFAULTS.batchSize, seeds }
  const trainShards = await TokenShards.open(o.train)
  const testShards = await TokenShards.open(o.test)
  const tokenizer = TextTokenizer.load(join(o.checkpoint, 'tokenizer.json'))
  const normPath = join(o.checkpoint, FEATURE_NORM_FILE)
  const featureNorm = existsSync(normPath) ? loadFeatureNorm(normPath) : 'none'
  const rows: DemoQAResult['rows'] = []
  const summary: DemoQAResult['summary'] = { open: {}, 'multiple-choice': {} }
  for (const format of ['open', 'multiple-choice'] as const) {
    for (const seed of seeds) {
      for (const arm of ['pretrained', 'scratch'] as const) {
        const r = await finetuneQA({
          checkpoint: o.checkpoint,
          shards: trainShards,
          validationFraction: 0,
          out: join(o.out, `${format}-seed${seed}-${arm}`),
          steps: settings.steps,
          seed,
          format,
          fromScratch: arm === 'scratch',
          numThreads: o.threads,
          device: o.device,
          progress: false,
          signal: o.signal,
        })
        const answers = format === 'open' ? { answers: r.answers } : {}
        const train = new QuestionDataset(trainShards, r.model.config, tokenizer, { validationFraction: 0, featureNorm, format, ...answers })
        const test = new QuestionDataset(testShards, r.model.config, tokenizer, { validationFraction: 1, featureNorm, format, ...answers })
        const report = await evaluateQA(r.model, test, 'validation', { baseline: train })
        rows.push({ format, seed, arm, accuracy: report.accuracy, perType: Object.fromEntries(Object.entries(report.perType).map(([t, x]) => [t, x.accuracy])) })
        for (const [t, x] of Object.entries(report.perType)) {
          const s = (summary[format][t] ??= { pretrained: 0, scratch: 0, chance: x.chance, majority: x.majority ?? 0, questions: x.questions })
          s[arm] += x.accuracy / seeds.length
        }
        o.log?.(`  QA (${format}), seed ${seed}, ${arm === 'pretrained' ? 'pre-trained ' : 'from scratch'}: ${Object.entries(report.perType).map(([t, x]) => `${t} ${x.accuracy.toFixed(3)}`).join(', ')}`)
      }
    }
  }
  return { settings, rows, summary }
}
