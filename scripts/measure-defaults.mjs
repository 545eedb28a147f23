#!/usr/bin/env node
// How well pre-training learns with given settings, measured the way a user meets them: a captioned
// set → vocabulary → tokens → `pretrain()` (library defaults unless a setting is given) → held-out
// fill-in-the-blank per attribute and text→video retrieval. One JSON line per run on stdout.
//
//   node scripts/measure-defaults.mjs --set patterns|shapes|glyphs [--steps N] [--split validation|test]
//        [--preset tiny] [--lr X] [--batch-size N] [--config '{"videoWeight":0.1}'] [--seed N]
//        [--tokenize '{"extractor":"builtin_v1"}']
//
// `--split dev` (default) scores a development set: one clip per combination drawn with another seed
// (never the test clips) — what settings are chosen on. `--split validation` scores the held-out tenth
// of the training clips. `--split test` scores the test clips: run once, after the choice, never to tune.
// Needs `npm run build`. The sets are cached under .tmp/sets/<set>.
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const root = resolve(import.meta.dirname, '..')
const lib = await import(join(root, 'dist', 'index.js'))
const { writeSyntheticSet, ATTRIBUTE_WORDS } = await import(join(root, 'dist', 'demo', 'synthetic.js'))
const { writePatternSet, PATTERN_WORDS } = await import(join(root, 'dist', 'demo', 'patterns.js'))
const { writeGlyphSet, GLYPH_WORDS } = await import(join(root, 'dist', 'demo', 'glyphs.js'))
const { DEMO_TOKENIZE } = await import(join(root, 'dist', 'demo', 'run.js'))

const { values: v } = parseArgs({
  options: {
    set: { type: 'string', default: 'patterns' },
    steps: { type: 'string', default: '2000' },
    split: { type: 'string', default: 'dev' },
    preset: { type: 'string', default: 'tiny' },
    lr: { type: 'string' },
    'batch-size': { type: 'string' },
    config: { type: 'string' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    tokenize: { type: 'string' },
  },
})
const SETS = {
  patterns: { write: writePatternSet, words: PATTERN_WORDS, tokenize: {} },
  shapes: { write: (dir, o) => writeSyntheticSet(dir, { ...o, trainPerCombination: 3 }), words: ATTRIBUTE_WORDS, tokenize: DEMO_TOKENIZE },
  glyphs: { write: writeGlyphSet, words: GLYPH_WORDS, tokenize: {} },
}
const set = SETS[v.set]
if (!set) throw new Error(`--set patterns|shapes, got ${v.set}`)
const work = join(root, '.tmp', 'sets', v.set)
const t0 = performance.now()
const data = await set.write(join(work, 'data'), {})
// The development set: the test split of the same generator with another seed (other clips).
const dev = await set.write(join(work, 'dev'), { seed: 1 })
const tokenizerPath = join(work, 'tokenizer.json')
await lib.trainVocabulary(data.manifests.train, tokenizerPath)
const shards = {}
const manifests = { train: data.manifests.train, test: data.manifests.test, dev: dev.manifests.test }
for (const split of ['train', 'test', 'dev']) {
  shards[split] = join(work, 'shards', split)
  rmSync(shards[split], { recursive: true, force: true })
  const s = await new lib.VideoTokenizer({ ...set.tokenize, ...(v.tokenize ? JSON.parse(v.tokenize) : {}) }).tokenizeManifest(manifests[split], { out: shards[split] })
  if (s.failures.length) throw new Error(`${s.failures.length} clips failed to tokenize`)
}
const run = join(work, 'run')
rmSync(run, { recursive: true, force: true })
const seed = Number(v.seed)
const fit = await lib.pretrain({
  data: shards.train,
  tokenizer: tokenizerPath,
  out: run,
  preset: v.preset,
  steps: Number(v.steps),
  lr: v.lr === undefined ? undefined : Number(v.lr),
  batchSize: v['batch-size'] === undefined ? undefined : Number(v['batch-size']),
  config: v.config ? JSON.parse(v.config) : undefined,
  seed,
  threads: v.threads === undefined ? undefined : Number(v.threads),
  progress: false,
})
const trainSeconds = (performance.now() - t0) / 1000
const tokenizer = lib.TextTokenizer.load(tokenizerPath)
const config = fit.model.config
// Scored on: the validation tenth of the training clips (same split as the Trainer's), or the test clips.
const scored =
  v.split === 'validation'
    ? new lib.VideoTextDataset(await lib.TokenShards.open(shards.train), config, tokenizer, { validationFraction: 0.1, seed })
    : new lib.VideoTextDataset(await lib.TokenShards.open(shards[v.split]), config, tokenizer, { validationFraction: 1, featureNorm: lib.loadFeatureNorm(join(run, 'feature_norm.json')) })
const blanks = await lib.fillInTheBlank(fit.model, scored, 'validation', set.words)
const words = await lib.textToVideoRetrieval(fit.model, scored, 'validation', { scorer: 'words', rerank: 'none' })
const match = await lib.textToVideoRetrieval(fit.model, scored, 'validation', { scorer: 'match', rerank: 'none' })
const val = fit.lastValidation
console.log(
  JSON.stringify({
    set: v.set,
    split: v.split,
    preset: v.preset,
    steps: fit.state.step,
    tokenize: v.tokenize ? JSON.parse(v.tokenize) : null,
    settings: { lr: v.lr ?? null, batchSize: v['batch-size'] ?? null, config: v.config ? JSON.parse(v.config) : null },
    blanks: Object.fromEntries(Object.entries(blanks).map(([k, m]) => [k, { accuracy: +m.accuracy.toFixed(3), chance: +m.chance.toFixed(3), ratio: +(m.accuracy / m.chance).toFixed(2) }])),
    retrieval: { words: { r1: +words.recall[1].toFixed(3), chance: +words.chance[1].toFixed(4), ratio: +(words.recall[1] / words.chance[1]).toFixed(1) }, match: { r1: +match.recall[1].toFixed(3), ratio: +(match.recall[1] / match.chance[1]).toFixed(1) } },
    candidates: words.candidates,
    finalValidation: val && { mlm: +val.mlmLoss.toFixed(3), video: +val.videoLoss.toFixed(3), vtm: +val.vtmLoss.toFixed(3) },
    seconds: Math.round(trainSeconds),
  }),
)
