/**
 * Does pre-training help? With a fraction of the demo's training labels (default 10 %, per class),
 * fine-tune a classifier from the pre-trained checkpoint and, with the same data and seeds, the same
 * architecture from random initialisation; compare test accuracy (mean over seeds). Each arm has its
 * own recipe: layer-wise decay and freezing are about pre-trained weights, and the scratch arm gets
 * the schedule that is best for it (both chosen on a development split, docs/pretraining.md).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'

import { LabelledDataset } from '../data/labelled.js'
import { evaluateClassifier } from '../eval/classification.js'
import { FEATURE_NORM_FILE, loadFeatureNorm } from '../data/feature-norm.js'
import { TextTokenizer } from '../vocab.js'
import { TokenShards } from '../shards.js'
import type { Device } from '../model.js'
import { finetuneClassifier, type FinetuneOptions } from '../training/finetune.js'

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
  /** How the pre-trained arm fine-tunes. @default `LABEL_EFFICIENCY_RECIPES.pretrained` */
  pretrained?: FinetuneRecipe
  /** How the scratch arm trains. @default `LABEL_EFFICIENCY_RECIPES.scratch` */
  scratch?: FinetuneRecipe
  /** The prompt of each label, for an arm whose pooling reads one (`'mask'`, `'text'`) and that names none. */
  prompts?: Record<string, string>
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

/** What one arm's fine-tuning sets (the rest of `FinetuneOptions` is the experiment's). */
export type FinetuneRecipe = Pick<FinetuneOptions, 'steps' | 'lr' | 'batchSize' | 'layerDecay' | 'encoderLrScale' | 'freezeFraction' | 'pooling' | 'prompt'>

/**
 * The recipes of the two arms when left out, each the best for its arm on the demo's development
 * clips (direction, 3 seeds, 2026-12-07; docs/using-a-model.md): the pre-trained model fine-tuned as
 * a prompt classifier (pooling `'mask'`: its own fill-in-the-blank head, a small learning rate); the
 * model from scratch with a head on `[CLS]`, longer and at a larger rate.
 */
export const LABEL_EFFICIENCY_RECIPES: Readonly<{ pretrained: Readonly<FinetuneRecipe>; scratch: Readonly<FinetuneRecipe> }> = Object.freeze({
  pretrained: Object.freeze({ steps: 100, lr: 1e-4, batchSize: 16, pooling: 'mask' as const }),
  scratch: Object.freeze({ steps: 300, lr: 2e-3, batchSize: 16, pooling: 'cls' as const }),
})

export interface LabelEfficiencyResult {
  settings: { labelFraction: number; seeds: number[]; pretrained: FinetuneRecipe; scratch: FinetuneRecipe }
  rows: LabelEfficiencyRow[]
  /** Per label: mean test accuracy of each arm over the seeds, the gain in points, and chance. */
  summary: Record<string, { pretrained: number; scratch: number; gainPoints: number; chance: number; testSamples: number }>
}

export async function labelEfficiency(o: LabelEfficiencyOptions): Promise<LabelEfficiencyResult> {
  const labels = o.labels ?? ['direction', 'shape']
  const seeds = o.seeds ?? [0, 1, 2]
  const recipes = { pretrained: o.pretrained ?? LABEL_EFFICIENCY_RECIPES.pretrained, scratch: o.scratch ?? LABEL_EFFICIENCY_RECIPES.scratch }
  const settings = { labelFraction: o.labelFraction ?? 0.1, seeds, ...recipes }
  const trainShards = await TokenShards.open(o.train)
  const testShards = await TokenShards.open(o.test)
  // The test clips are read as the fine-tuning data was: the checkpoint's tokenizer and standardisation.
  const tokenizer = TextTokenizer.load(join(o.checkpoint, 'tokenizer.json'))
  const normPath = join(o.checkpoint, FEATURE_NORM_FILE)
  const featureNorm = existsSync(normPath) ? loadFeatureNorm(normPath) : 'none'
  const rows: LabelEfficiencyRow[] = []
  const summary: LabelEfficiencyResult['summary'] = {}
  for (const label of labels) {
    const test: Partial<Record<'pretrained' | 'scratch', LabelledDataset>> = {}
    let testSamples = 0
    for (const seed of seeds) {
      const acc: Record<'pretrained' | 'scratch', number> = { pretrained: 0, scratch: 0 }
      let trainVideos = 0
      for (const arm of ['pretrained', 'scratch'] as const) {
        const recipe = recipeFor(recipes[arm], label, o.prompts)
        const r = await finetuneClassifier({
          ...recipe,
          checkpoint: o.checkpoint,
          shards: trainShards,
          labels: label,
          labelFraction: settings.labelFraction,
          validationFraction: 0,
          out: join(o.out, `${label}-seed${seed}-${arm}`),
          seed,
          fromScratch: arm === 'scratch',
          numThreads: o.threads,
          device: o.device,
          progress: false,
          signal: o.signal,
        })
        // Each arm is tested as it was trained (with its prompt, if any).
        test[arm] ??= new LabelledDataset(testShards, r.model.config, tokenizer, { labels: label, classes: r.classes, validationFraction: 1, featureNorm, prompt: recipe.prompt })
        const report = await evaluateClassifier(r.model, test[arm], 'validation')
        acc[arm] = report.accuracy
        testSamples = report.samples
        trainVideos = r.videos.train
      }
      rows.push({ label, seed, trainVideos, ...acc })
      o.log?.(`  ${label}, seed ${seed}: pre-trained ${acc.pretrained.toFixed(3)}, from scratch ${acc.scratch.toFixed(3)} (${trainVideos} labelled clips)`)
    }
    const mine = rows.filter((r) => r.label === label)
    const mean = (k: 'pretrained' | 'scratch') => mine.reduce((s, r) => s + r[k], 0) / mine.length
    summary[label] = { pretrained: mean('pretrained'), scratch: mean('scratch'), gainPoints: 100 * (mean('pretrained') - mean('scratch')), chance: 1 / test.pretrained!.classes.length, testSamples }
  }
  return { settings, rows, summary }
}

/** An arm's recipe for one label: its prompt, or the label's when its pooling reads one. */
function recipeFor(recipe: FinetuneRecipe, label: string, prompts: Record<string, string> | undefined): FinetuneRecipe {
  const reads = recipe.pooling === 'mask' || recipe.pooling === 'text'
  return reads && recipe.prompt === undefined && prompts?.[label] !== undefined ? { ...recipe, prompt: prompts[label] } : recipe
}
