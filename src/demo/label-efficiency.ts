/**
 * Does pre-training help? With a fraction of the demo's training labels (default 10 %, per class),
 * fine-tune a classifier from the pre-trained checkpoint and, with the same data, steps, schedule and
 * seeds, the same architecture from random initialisation; compare test accuracy (mean over seeds).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'

import { LabelledDataset } from '../data/labelled.js'
import { evaluateClassifier } from '../eval/classification.js'
import { FEATURE_NORM_FILE, loadFeatureNorm } from '../data/feature-norm.js'
import { TextTokenizer } from '../vocab.js'
import { TokenShards } from '../shards.js'
import type { Device } from '../model.js'
import { finetuneClassifier } from '../training/finetune.js'

export interface LabelEfficiencyOptions {
  /** The pre-trained checkpoint. */
  checkpoint: string
  /** Shards of the labelled training clips and of the test clips. */
  train: string
  test: string
  /** Where the fine-tuning runs go (one directory per run; must not hold earlier runs). */
  out: string
  /** Label keys of the manifest. @default ['direction', 'shape'] */
  labels?: string[]
  /** @default [0, 1, 2] */
  seeds?: number[]
  /** @default 0.1 */
  labelFraction?: number
  /** @default 100 */
  steps?: number
  /** @default 1e-3 */
  lr?: number
  /** @default 16 */
  batchSize?: number
  threads?: number
  /** Where the model computes: `'cpu'`, `'cuda'` or `'cuda:N'` (`CreateOptions.device`). @default 'cpu' */
  device?: Device
  log?: (line: string) => void
  signal?: AbortSignal
}

export interface LabelEfficiencyRow {
  label: string
  seed: number
  /** Labelled training videos used. */
  trainVideos: number
  pretrained: number
  scratch: number
}

export interface LabelEfficiencyResult {
  settings: { labelFraction: number; steps: number; lr: number; batchSize: number; seeds: number[]; pooling: 'cls' }
  rows: LabelEfficiencyRow[]
  /** Per label: mean test accuracy of each arm over the seeds, the gain in points, and chance. */
  summary: Record<string, { pretrained: number; scratch: number; gainPoints: number; chance: number; testSamples: number }>
}

export async function labelEfficiency(o: LabelEfficiencyOptions): Promise<LabelEfficiencyResult> {
  const labels = o.labels ?? ['direction', 'shape']
  const seeds = o.seeds ?? [0, 1, 2]
  const settings = { labelFraction: o.labelFraction ?? 0.1, steps: o.steps ?? 100, lr: o.lr ?? 1e-3, batchSize: o.batchSize ?? 16, seeds, pooling: 'cls' as const }
  const trainShards = await TokenShards.open(o.train)
  const testShards = await TokenShards.open(o.test)
  // The test clips are read as the fine-tuning data was: the checkpoint's tokenizer and standardisation.
  const tokenizer = TextTokenizer.load(join(o.checkpoint, 'tokenizer.json'))
  const normPath = join(o.checkpoint, FEATURE_NORM_FILE)
  const featureNorm = existsSync(normPath) ? loadFeatureNorm(normPath) : 'none'
  const rows: LabelEfficiencyRow[] = []
  const summary: LabelEfficiencyResult['summary'] = {}
  for (const label of labels) {
    let test: LabelledDataset | null = null
    let testSamples = 0
    for (const seed of seeds) {
      const acc: Record<'pretrained' | 'scratch', number> = { pretrained: 0, scratch: 0 }
      let trainVideos = 0
      for (const arm of ['pretrained', 'scratch'] as const) {
        const r = await finetuneClassifier({
          checkpoint: o.checkpoint,
          shards: trainShards,
          labels: label,
          labelFraction: settings.labelFraction,
          validationFraction: 0,
          out: join(o.out, `${label}-seed${seed}-${arm}`),
          steps: settings.steps,
          lr: settings.lr,
          batchSize: settings.batchSize,
          seed,
          fromScratch: arm === 'scratch',
          numThreads: o.threads,
          device: o.device,
          progress: false,
          signal: o.signal,
        })
        test ??= new LabelledDataset(testShards, r.model.config, tokenizer, { labels: label, classes: r.classes, validationFraction: 1, featureNorm })
        const report = await evaluateClassifier(r.model, test, 'validation')
        acc[arm] = report.accuracy
        testSamples = report.samples
        trainVideos = r.videos.train
      }
      rows.push({ label, seed, trainVideos, ...acc })
      o.log?.(`  ${label}, seed ${seed}: pre-trained ${acc.pretrained.toFixed(3)}, from scratch ${acc.scratch.toFixed(3)} (${trainVideos} labelled clips)`)
    }
    const mine = rows.filter((r) => r.label === label)
    const mean = (k: 'pretrained' | 'scratch') => mine.reduce((s, r) => s + r[k], 0) / mine.length
    summary[label] = { pretrained: mean('pretrained'), scratch: mean('scratch'), gainPoints: 100 * (mean('pretrained') - mean('scratch')), chance: 1 / test!.classes.length, testSamples }
  }
  return { settings, rows, summary }
}
