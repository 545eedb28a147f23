/**
 * The train step: one AdamW update (forward, backward, clip, update) of the `small` preset
 * (H 256, 4 layers, 4 heads, FFN 1024, L 32, T 16, R 4, F 512) on a batch of 8, native vs PyTorch
 * CPU on the same model (`scripts/reference/bench_train_step.py`, the op-for-op reference), at 1
 * and 2 threads, and vs the same model in pure JavaScript (TensorFlow.js on its `cpu` backend,
 * `benches/baselines/videobert-tfjs.ts`; single-threaded whatever the thread count, so measured once). PyTorch comes from `.venv-torch` (`bash scripts/reference/setup-torch.sh`: the PyPI
 * wheel), or VIDEOBERT_TORCH_PYTHON, or `python3`; skipped with a note when none imports torch. Writes its table into benches/RESULTS.md between the
 * `train-step` markers. Run: `npm run bench` (or `node .bench-dist/benches/train-step.bench.js`).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { configToJson, presets, randomBatch, VideoBERT } from 'videobert-native'

import { tfjsModel } from './baselines/videobert-tfjs.js'
import { machine, writeResults } from './common.js'

const BATCH = 8
const STEPS = Number(process.env.VIDEOBERT_BENCH_STEPS ?? 10)
const WARMUP = 3
const config = presets.small

/**
 * Median ms of the native step at `threads`, measured in a child process whose every pool has that
 * many threads: `numThreads` sizes the GEMM / fused-kernel pool, and `CANDLE_NUM_THREADS` candle's
 * process-wide pool for its remaining elementwise ops (read once, at its first use) — without it a
 * "1-thread" run would still run those ops on every core.
 */
function native(threads: number): number {
  const self = fileURLToPath(import.meta.url)
  const r = spawnSync(process.execPath, [self], { encoding: 'utf8', env: { ...process.env, VIDEOBERT_BENCH_CHILD_THREADS: String(threads), CANDLE_NUM_THREADS: String(threads), RAYON_NUM_THREADS: String(threads) } })
  if (r.status !== 0) throw new Error(`native train-step child failed: ${r.stderr}`)
  return Number(r.stdout.trim().split('\n').pop())
}

async function nativeHere(threads: number): Promise<number> {
  const model = await VideoBERT.create(config, { seed: 0, numThreads: threads })
  const batch = randomBatch(config, { batchSize: BATCH, seed: 1 })
  const times: number[] = []
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now()
    await model.trainStep(batch, { lr: 1e-4 })
    if (i >= WARMUP) times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

function pytorch(threads: number): { ms: number; torch: string } | string {
  const venv = fileURLToPath(new URL('../../.venv-torch/bin/python', import.meta.url))
  const python = process.env.VIDEOBERT_TORCH_PYTHON ?? (existsSync(venv) ? venv : 'python3')
  const script = fileURLToPath(new URL('../../scripts/reference/bench_train_step.py', import.meta.url))
  const r = spawnSync(python, [script, '--config', configToJson(config), '--batch', String(BATCH), '--threads', String(threads), '--steps', String(STEPS), '--warmup', String(WARMUP)], { encoding: 'utf8' })
  if (r.status !== 0) return `skipped: ${python} ${script} failed (${(r.stderr || String(r.error)).trim().split('\n').pop()})`
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms_per_step: number; torch: string }
  return { ms: out.ms_per_step, torch: out.torch }
}

if (process.env.VIDEOBERT_BENCH_CHILD_THREADS) {
  console.log(await nativeHere(Number(process.env.VIDEOBERT_BENCH_CHILD_THREADS)))
  process.exit(0)
}

/** Median ms of the tfjs step (1 warm-up step: its first step also builds kernels). */
function tfjs(): { ms: number; backend: string } {
  const model = tfjsModel(config)
  const batch = randomBatch(config, { batchSize: BATCH, seed: 1 })
  const steps = Number(process.env.VIDEOBERT_BENCH_TFJS_STEPS ?? 2)
  const times: number[] = []
  for (let i = 0; i < 1 + steps; i++) {
    const t0 = performance.now()
    const loss = model.step(batch)
    if (!Number.isFinite(loss)) throw new Error(`tfjs step: loss ${loss}`)
    if (i >= 1) times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return { ms: times[Math.floor(times.length / 2)]!, backend: model.backend }
}

const rows: string[] = []
const notes: string[] = []
let js: { ms: number; backend: string } | null = null
try {
  js = tfjs()
  console.log(`tfjs ${js.backend}: ${js.ms.toFixed(0)} ms per step`)
} catch (e) {
  notes.push(`tfjs: skipped (${String(e).split('\n')[0]}; \`npm --prefix benches/baselines ci\` installs it)`)
}
for (const threads of [1, 2]) {
  const ms = native(threads)
  const torch = pytorch(threads)
  const peer = typeof torch === 'string' ? null : torch
  if (typeof torch === 'string') notes.push(`PyTorch, ${threads} thread(s): ${torch}`)
  rows.push(
    `| ${threads} | ${ms.toFixed(0)} ms (${(1000 / ms).toFixed(2)} steps/s) | ${peer ? `${peer.ms.toFixed(0)} ms (${(1000 / peer.ms).toFixed(2)} steps/s), torch ${peer.torch}` : 'skipped'} | ${js ? `${(js.ms / 1000).toFixed(1)} s` : 'skipped'} | ${peer ? `${(peer.ms / ms).toFixed(2)}×` : '—'} | ${js ? `${(js.ms / ms).toFixed(0)}×` : '—'} |`,
  )
  console.log(rows.at(-1))
}
const table = [
  `Train step, \`small\` preset, batch ${BATCH}, median of ${STEPS} steps after ${WARMUP} (${machine()}; \`npm run bench\`):`,
  '',
  '| threads | native | PyTorch CPU (same model) | tfjs `cpu` backend (pure JS, 1 thread) | native speed ÷ PyTorch | native speed ÷ tfjs |',
  '|---|---|---|---|---|---|',
  ...rows,
  ...(notes.length ? ['', ...notes] : []),
].join('\n')
writeResults('train-step', 'Train step (issue 13)', table)
console.log(table)
