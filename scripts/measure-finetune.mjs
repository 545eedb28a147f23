#!/usr/bin/env node
// Does pre-training pay off in fine-tuning, with a given recipe? On a pre-trained checkpoint — a
// demo run's (`videobert demo --out DIR`, then `--demo DIR`) or the last run of
// `scripts/measure-defaults.mjs --set NAME` (then `--set NAME`) — fine-tune with 10 % of the training
// labels, pre-trained and from scratch, 3 seeds, and score each arm: on a development set by default
// (the generator with another seed: other clips of the same combinations, never the test clips), or
// on the test clips. One JSON line on stdout.
//
//   node scripts/measure-finetune.mjs --demo DIR | --set patterns|shapes|glyphs [--split dev|test]
//        [--labels direction,shape] [--seeds 0,1,2] [--pretrained '{"lr":1e-3,"freezeFraction":0.3}']
//        [--scratch '{"lr":3e-3}']
//
// --pretrained / --scratch: a `FinetuneRecipe` (steps, lr, batchSize, layerDecay, encoderLrScale,
// freezeFraction, pooling) merged over `LABEL_EFFICIENCY_RECIPES`. Needs `npm run build`.
import { existsSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const root = resolve(import.meta.dirname, '..')
const lib = await import(join(root, 'dist', 'index.js'))
const { writeSyntheticSet, DEMO_PROMPTS } = await import(join(root, 'dist', 'demo', 'synthetic.js'))
const { PATTERN_PROMPTS } = await import(join(root, 'dist', 'demo', 'patterns.js'))
const { GLYPH_PROMPTS } = await import(join(root, 'dist', 'demo', 'glyphs.js'))
const { DEMO_TOKENIZE } = await import(join(root, 'dist', 'demo', 'run.js'))
const { labelEfficiency, LABEL_EFFICIENCY_RECIPES } = await import(join(root, 'dist', 'demo', 'label-efficiency.js'))

const { values: v } = parseArgs({
  options: {
    demo: { type: 'string' },
    set: { type: 'string' },
    split: { type: 'string', default: 'dev' },
    labels: { type: 'string' },
    seeds: { type: 'string', default: '0,1,2' },
    pretrained: { type: 'string', default: '{}' },
    scratch: { type: 'string', default: '{}' },
    threads: { type: 'string' },
  },
})
if (!v.demo === !v.set) throw new Error('give one of --demo DIR (a finished `videobert demo --out DIR`) and --set NAME (after measure-defaults.mjs --set NAME)')
if (!['dev', 'test'].includes(v.split)) throw new Error(`--split dev|test, got ${v.split}`)
const LABELS = { shapes: 'direction,shape', patterns: 'motion,texture', glyphs: 'glyph,direction' }
const PROMPTS = { shapes: DEMO_PROMPTS, patterns: PATTERN_PROMPTS, glyphs: GLYPH_PROMPTS }
if (v.set && !LABELS[v.set]) throw new Error(`--set ${Object.keys(LABELS).join('|')}, got ${v.set}`)
const labels = (v.labels ?? LABELS[v.set ?? 'shapes']).split(',')
const demo = resolve(v.demo ?? join(root, '.tmp', 'sets', v.set))
const checkpoints = join(demo, 'run', 'checkpoints')
// The newest complete checkpoint, as the Trainer's resume finds it.
const latest = new lib.CheckpointManager(checkpoints).latest()
if (!latest) throw new Error(`${checkpoints}: no checkpoint`)
const checkpoint = latest.path

let evalShards = join(demo, 'shards', 'test')
if (v.set) evalShards = join(demo, 'shards', v.split)
else if (v.split === 'dev') {
  // The development clips, tokenized as the demo tokenized its own (cached beside the run).
  evalShards = join(demo, 'dev', 'shards')
  if (!existsSync(join(evalShards, 'index.json'))) {
    const set = await writeSyntheticSet(join(demo, 'dev', 'data'), { seed: 1, trainPerCombination: 1 })
    rmSync(evalShards, { recursive: true, force: true })
    const r = await new lib.VideoTokenizer(DEMO_TOKENIZE).tokenizeManifest(set.manifests.test, { out: evalShards })
    if (r.failures.length) throw new Error(`${r.failures.length} development clips failed to tokenize`)
  }
}
const out = join(demo, 'finetune-sweep')
rmSync(out, { recursive: true, force: true })
const t0 = performance.now()
const r = await labelEfficiency({
  checkpoint,
  train: join(demo, 'shards', 'train'),
  test: evalShards,
  out,
  labels,
  prompts: PROMPTS[v.set ?? 'shapes'],
  seeds: v.seeds.split(',').map(Number),
  pretrained: { ...LABEL_EFFICIENCY_RECIPES.pretrained, ...JSON.parse(v.pretrained) },
  scratch: { ...LABEL_EFFICIENCY_RECIPES.scratch, ...JSON.parse(v.scratch) },
  threads: v.threads === undefined ? undefined : Number(v.threads),
})
const sd = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1))
}
const summary = Object.fromEntries(
  Object.entries(r.summary).map(([label, s]) => {
    const rows = r.rows.filter((x) => x.label === label)
    const f = (x) => Number(x.toFixed(3))
    return [label, { pretrained: f(s.pretrained), pretrainedSd: f(sd(rows.map((x) => x.pretrained))), scratch: f(s.scratch), scratchSd: f(sd(rows.map((x) => x.scratch))), gainPoints: Number(s.gainPoints.toFixed(1)) }]
  }),
)
console.log(JSON.stringify({ split: v.split, checkpoint: `step-${latest.step}`, settings: r.settings, summary, rows: r.rows, seconds: Math.round((performance.now() - t0) / 1000) }))
