/**
 * `videobert demo --seeds 0,1,2`: the demo once per seed (its own clips, split, initialisation and
 * masking; each in `OUT/seed-N`), every figure reported as mean ± standard deviation over the seeds.
 * One seed's figure is not a result: a change of summation order once moved the default scorer's
 * R@1 from 0.833 to 0.469 on one seed.
 */
import { join } from 'node:path'

import type { RetrievalMetrics } from '../eval/retrieval.js'
import { runDemo, type DemoOptions, type DemoResult } from './run.js'

/** One figure of a demo run: its value and what chance gives. */
export interface DemoFigure {
  name: string
  value: number
  chance: number
}

/** The retrieval rankings the demo scores, by their result key, with the names its tables use. */
export const DEMO_RETRIEVAL_LABELS = {
  likelihood: 'likelihood',
  match: 'match head',
  words: 'word profile',
  wordsThenLikelihood: 'words → likelihood top 10',
} as const satisfies Record<keyof DemoResult['retrieval'], string>

/** Every figure of a demo run, in the order its table shows them (label efficiency when it ran). */
export function demoFigures(r: DemoResult): DemoFigure[] {
  const out: DemoFigure[] = []
  const retrieval = (label: string, m: RetrievalMetrics) => {
    for (const k of [1, 5, 10] as const) out.push({ name: `retrieval R@${k} (${label})`, value: m.recall[k], chance: m.chance[k] })
  }
  for (const [key, label] of Object.entries(DEMO_RETRIEVAL_LABELS)) retrieval(label, r.retrieval[key as keyof DemoResult['retrieval']])
  for (const [attr, m] of Object.entries(r.fillInTheBlank)) out.push({ name: `fill-in-the-blank ${attr}`, value: m.accuracy, chance: m.chance })
  for (const [attr, m] of Object.entries(r.captions.perGroup)) out.push({ name: `caption names the ${attr}`, value: m.accuracy, chance: m.chance })
  for (const [label, m] of Object.entries(r.labelEfficiency?.summary ?? {})) {
    out.push({ name: `10 % labels, ${label}: pre-trained`, value: m.pretrained, chance: m.chance })
    out.push({ name: `10 % labels, ${label}: from scratch`, value: m.scratch, chance: m.chance })
  }
  return out
}

/** A figure over seeds: mean, sample standard deviation (n − 1; 0 for one seed) and each seed's value. */
export interface SeedFigure {
  name: string
  mean: number
  sd: number
  values: number[]
  chance: number
}

export interface DemoSeedsResult {
  seeds: number[]
  figures: SeedFigure[]
  runs: DemoResult[]
}

/** Mean and sample standard deviation. */
export function meanSd(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0
  return { mean, sd }
}

/** The figures of runs that differ only by seed, figure by figure. */
export function aggregateFigures(runs: DemoFigure[][]): SeedFigure[] {
  const [first] = runs
  if (!first) return []
  return first.map((f, i) => {
    const values = runs.map((r) => {
      const g = r[i]
      if (g?.name !== f.name) throw new Error(`demo seeds: figure ${i} is ${String(g?.name)} in one run and ${f.name} in another`)
      return g.value
    })
    return { name: f.name, ...meanSd(values), values, chance: f.chance }
  })
}

/** Run the demo once per seed, each in `out/seed-N` (clips are reused there), and aggregate. */
export async function runDemoSeeds(options: DemoOptions, seeds: number[]): Promise<DemoSeedsResult> {
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length) throw new Error(`demo seeds: give distinct seeds, got ${seeds.join(',')}`)
  const runs: DemoResult[] = []
  for (const [i, seed] of seeds.entries()) {
    options.log?.(`== seed ${seed} (${i + 1} of ${seeds.length})`)
    const r = await runDemo({ ...options, seed, out: join(options.out, `seed-${seed}`) })
    runs.push(r)
    if (r.train.stopped === 'aborted') break
  }
  return { seeds: seeds.slice(0, runs.length), figures: aggregateFigures(runs.map(demoFigures)), runs }
}
