#!/usr/bin/env node
// Memory over a long run: RSS sampled over many inference calls (embed, scoreMatch, predictMasked
// on the tiny preset) and over a long training run (trainStep + an evaluate every 100 steps); a
// least-squares line through the samples after a warm-up gives the growth per call, which must stay
// under a bound (default 1 KiB per call / step: 20 MB over 20 000 calls).
//   npm run build && node scripts/leak-check.mjs [--calls 20000] [--steps 5000] [--bound 1024]
// Prints a JSON summary; exits 1 when a slope is over the bound.
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const { values: flags } = parseArgs({ options: { calls: { type: 'string', default: '20000' }, steps: { type: 'string', default: '5000' }, bound: { type: 'string', default: '1024' } } })
const root = fileURLToPath(new URL('..', import.meta.url))
const { VideoBERT, randomBatch } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href)
const bound = Number(flags.bound)

/** Bytes per unit of the least-squares line through (x, rss) after the first fifth (warm-up). */
function slope(samples) {
  const s = samples.slice(Math.floor(samples.length / 5))
  const mx = s.reduce((a, p) => a + p[0], 0) / s.length
  const my = s.reduce((a, p) => a + p[1], 0) / s.length
  let num = 0
  let den = 0
  for (const [x, y] of s) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return num / den
}

async function measure(n, every, work) {
  const samples = []
  for (let i = 0; i < n; i++) {
    await work(i)
    if (i % every === 0) samples.push([i, process.memoryUsage.rss()])
  }
  const rss = samples.map((p) => p[1])
  return { units: n, bytesPerUnit: slope(samples), rssStartMiB: rss[Math.floor(rss.length / 5)] / 2 ** 20, rssEndMiB: rss.at(-1) / 2 ** 20, rssMaxMiB: Math.max(...rss) / 2 ** 20 }
}

const model = await VideoBERT.create('tiny', { seed: 1, numThreads: 1 })
const batch = randomBatch(model.config, { batchSize: 2, seed: 2 })
const masked = { ...batch, textIds: batch.textIds.map((id, k) => (k % 5 === 0 ? model.config.maskTokenId : id)) }
const inference = await measure(Number(flags.calls), 50, async (i) => {
  if (i % 3 === 0) await model.embed(batch)
  else if (i % 3 === 1) await model.scoreMatch(batch)
  else await model.predictMasked(masked, { topK: 5 })
})
const training = await measure(Number(flags.steps), 25, async (i) => {
  await model.trainStep(batch, { lr: 1e-4 })
  if (i % 100 === 0) await model.evaluate(batch)
})
const summary = { bound, inference, training, ok: inference.bytesPerUnit < bound && training.bytesPerUnit < bound }
process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`)
if (!summary.ok) process.exitCode = 1
