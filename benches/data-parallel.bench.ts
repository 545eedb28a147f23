/**
 * Data-parallel speed-up on one machine: samples/s of the `small` train step (1 thread per process)
 * for 1 process alone and for 2 ranks under `mpirun -np 2`, each rank stepping on its own batch of
 * BATCH rows with the gradients summed over MPI (`startDistributed` + `joinDataParallel`): what a
 * second core buys when it runs a second rank. Each configuration runs REPEATS times, alternated;
 * the figure is mean ± sd. Needs Open MPI's mpirun (scripts/setup.sh installs it).
 * Writes its table into benches/RESULTS.md between the `data-parallel` markers.
 * Run: `node .bench-dist/benches/data-parallel.bench.js`.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { presets, randomBatch, startDistributed, VideoBERT } from 'videobert-native'

import { machine, writeResults } from './common.js'

const BATCH = 8
const WARMUP = 3
const STEPS = Number(process.env.VIDEOBERT_BENCH_STEPS ?? 20)
const REPEATS = Number(process.env.VIDEOBERT_BENCH_REPEATS ?? 3)

/** In a child: STEPS timed steps after WARMUP; prints samples/s of the whole group (rank 0). */
async function child(): Promise<void> {
  const group = process.env.OMPI_COMM_WORLD_SIZE ? startDistributed({}) : undefined
  const world = group?.worldSize ?? 1
  const model = await VideoBERT.create(presets.small, { seed: 0, numThreads: 1 })
  if (group && !process.env.VIDEOBERT_BENCH_NO_COMM) model.joinDataParallel()
  const batch = randomBatch(presets.small, { batchSize: BATCH, seed: 1 + (group?.rank ?? 0) })
  for (let i = 0; i < WARMUP; i++) await model.trainStep(batch, { lr: 1e-4 })
  const t0 = performance.now()
  for (let i = 0; i < STEPS; i++) await model.trainStep(batch, { lr: 1e-4 })
  const seconds = (performance.now() - t0) / 1000
  if ((group?.rank ?? 0) === 0) process.stdout.write(`${(world * BATCH * STEPS) / seconds}\n`)
}

function run(ranks: number): number {
  const self = fileURLToPath(import.meta.url)
  const env = { ...process.env, VIDEOBERT_BENCH_CHILD: '1', CANDLE_NUM_THREADS: '1', RAYON_NUM_THREADS: '1', OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' }
  const [cmd, args] = ranks === 1 ? [process.execPath, [self]] : ['mpirun', ['-np', String(ranks), '--bind-to', 'core', process.execPath, self]]
  const r = spawnSync(cmd, args, { encoding: 'utf8', env })
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`)
  return Number(r.stdout.trim().split('\n').pop())
}

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  return { mean, sd: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1)) }
}

if (process.env.VIDEOBERT_BENCH_CHILD) {
  await child()
} else {
  const one: number[] = []
  const two: number[] = []
  for (let i = 0; i < REPEATS; i++) {
    one.push(run(1))
    two.push(run(2))
  }
  const ratios = one.map((x, i) => two[i]! / x)
  const [a, b, r] = [stats(one), stats(two), stats(ratios)]
  const text =
    `Data parallel, \`small\` preset, batch ${BATCH} per rank, 1 thread per rank, ${STEPS} steps × ${REPEATS} runs alternated — ${machine()}\n\n` +
    `| ranks | samples/s (mean ± sd) |\n|---|---|\n| 1 (no MPI) | ${a.mean.toFixed(1)} ± ${a.sd.toFixed(1)} |\n| 2 (mpirun) | ${b.mean.toFixed(1)} ± ${b.sd.toFixed(1)} |\n\n` +
    `Speed-up ${r.mean.toFixed(2)}× ± ${r.sd.toFixed(2)} (runs: ${ratios.map((x) => x.toFixed(2)).join(', ')}).`
  process.stdout.write(`${text}\n`)
  writeResults('data-parallel', 'Data parallel on one machine (benches/data-parallel.bench.ts)', text)
}
