/**
 * The retrieval `likelihood` scorer's inner call at a real vocabulary: every caption word piece
 * masked in turn and scored given the video. Before: `predictMasked(batch, { topK: vocabSize })`
 * (the whole distribution of every mask crosses into JS, then one entry is looked up); now:
 * `maskLogProbs(batch, answers)` (the log-probability of the answer only). `small` preset with a
 * BERT-sized vocabulary (30 522) and with the demo's (69), batch of 32 masked captions, 2 threads.
 * Prints a table for benches/RESULTS.md (written between the `inference` markers).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { presets, randomBatch, VideoBERT } from 'videobert-native'

import { machine } from './common.js'

const rows: string[] = []
for (const vocabSize of [30_522, 69]) {
  const config = { ...presets.small, vocabSize }
  const model = await VideoBERT.create(config, { seed: 0 })
  const batch = randomBatch(config, { batchSize: 32, seed: 3 })
  const L = config.maxTextLen
  const answers = Uint32Array.from({ length: 32 }, (_, i) => batch.textIds[i * L]!)
  for (let i = 0; i < 32; i++) batch.textIds[i * L] = config.maskTokenId
  const time = async (f: () => Promise<Float32Array>): Promise<{ ms: number; out: Float32Array }> => {
    const times: number[] = []
    let out: Float32Array = new Float32Array(0)
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now()
      out = await f()
      if (i >= 2) times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    return { ms: times[Math.floor(times.length / 2)]!, out }
  }
  const full = await time(async () => {
    const preds = await model.predictMasked(batch, { topK: vocabSize })
    return Float32Array.from(preds, (p, m) => Math.log(p.probs[p.ids.indexOf(answers[m]!)]!))
  })
  const direct = await time(() => model.maskLogProbs(batch, answers))
  const diff = Math.max(...direct.out.map((v, i) => Math.abs(v - full.out[i]!)))
  rows.push(`| ${vocabSize} | ${(full.ms / 32).toFixed(2)} ms | ${(direct.ms / 32).toFixed(2)} ms | ${(full.ms / direct.ms).toFixed(1)}× | ${diff.toExponential(1)} |`)
  console.log(rows.at(-1))
}
const table = [
  '<!-- inference:begin -->',
  `The likelihood scorer's call, per masked caption token (batch of 32, \`small\` preset, median of 6; ${machine()}; \`npm run bench\`):`,
  '',
  '| vocabulary | predictMasked(topK = V) + lookup (before) | maskLogProbs (now) | speed-up | max abs difference of the log-probabilities |',
  '|---|---|---|---|---|',
  ...rows,
  '<!-- inference:end -->',
].join('\n')
const resultsPath = fileURLToPath(new URL('../../benches/RESULTS.md', import.meta.url))
const results = readFileSync(resultsPath, 'utf8')
const marked = /<!-- inference:begin -->[\s\S]*<!-- inference:end -->/
writeFileSync(resultsPath, marked.test(results) ? results.replace(marked, table) : `${results.trimEnd()}\n\n### Inference (issue 13)\n\n${table}\n`)
console.log(table)
