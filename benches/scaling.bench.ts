/**
 * Scaling on paper: step time of the `base` preset against world size N (1 to 512), data-parallel
 * with the gradients all-reduced by a ring after the backward pass (what the trainer does today):
 *
 *   T(N) = T_compute + T_allreduce(N),  T_allreduce(N) = 2(N−1)/N · G / BW + 2(N−1) · buckets · α
 *
 * G is the gradient in bytes (f32: 4 × parameters, counted from the model), BW the bandwidth of the
 * slowest link a GPU's ring traffic crosses, α the latency of one ring step, and `buckets` the
 * number of all-reduce calls (G / 25 MiB with bucketing, one per parameter tensor without).
 *
 * T_compute is measured: the base step here on this machine's CPU (per-rank batch 8), and for a GPU
 * estimated from the step's FLOPs (6 × parameters × tokens, Kaplan et al. 2020) at a stated share of
 * the H100's FP32 peak, until a lent GPU measures it (`--gpu-ms X` replaces the estimate).
 * Link bandwidths are vendor figures, per direction:
 * - NVLink 4 (H100 SXM5): 900 GB/s per GPU in both directions → 450 GB/s (NVIDIA H100 datasheet);
 *   NVIDIA's NVLink Switch System reaches at most 256 GPUs;
 * - InfiniBand NDR: 400 Gb/s per port → 50 GB/s (NVIDIA ConnectX-7 datasheet), one adapter per GPU
 *   as in a DGX H100;
 * - 100 GbE: 100 Gb/s → 12.5 GB/s (IEEE 802.3), one port per GPU (shared by 8 GPUs it is 8× slower).
 * α per ring step is an assumption, not a measurement: 3 µs NVLink, 5 µs InfiniBand, 30 µs Ethernet
 * (TCP). Writes its tables into benches/RESULTS.md between the `scaling` markers and prints them.
 * Run: `node .bench-dist/benches/scaling.bench.js [--gpu-ms X]`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { presets, randomBatch, VideoBERT } from 'videobert-native'

import { machine } from './common.js'

const CPU_BATCH = 8
const GPU_BATCH = 32
const BUCKET_BYTES = 25 * 2 ** 20
const WORLD = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
const H100_FP32 = 67e12 // FLOP/s, H100 SXM5 FP32 (NVIDIA datasheet)
const GPU_SHARE = 0.4 // assumed share of that peak a train step reaches
const LINKS = [
  { name: 'NVLink 4', bytesPerS: 450e9, alpha: 3e-6, maxGpus: 256 },
  { name: 'InfiniBand NDR', bytesPerS: 50e9, alpha: 5e-6, maxGpus: Infinity },
  { name: '100 GbE', bytesPerS: 12.5e9, alpha: 30e-6, maxGpus: Infinity },
]

/** Seconds of one all-reduce of `bytes` over a ring of `n` ranks in `calls` calls. */
export function ringAllReduce(bytes: number, n: number, link: { bytesPerS: number; alpha: number }, calls: number): number {
  if (n === 1) return 0
  return ((2 * (n - 1)) / n) * (bytes / link.bytesPerS) + 2 * (n - 1) * calls * link.alpha
}

async function measure(): Promise<{ params: number; tensors: number; cpuMs: number; tokens: number }> {
  const config = presets.base
  const model = await VideoBERT.create(config, { seed: 0 })
  const batch = randomBatch(config, { batchSize: CPU_BATCH, seed: 1 })
  const times: number[] = []
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now()
    await model.trainStep(batch, { lr: 1e-4 })
    if (i >= 1) times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  // The parameter tensors, as the checkpoint stores them (its safetensors header, less metadata).
  const dir = mkdtempSync(join(tmpdir(), 'vb-scaling-'))
  await model.save(dir)
  const file = readFileSync(join(dir, 'model.safetensors'))
  const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString('utf8')) as Record<string, unknown>
  rmSync(dir, { recursive: true, force: true })
  const tensors = Object.keys(header).filter((k) => k !== '__metadata__').length
  return { params: model.numParameters, tensors, cpuMs: times[1]!, tokens: config.maxTextLen + config.maxSegments + 3 }
}

function table(title: string, computeS: number, bytes: number, tensors: number): string {
  const buckets = Math.ceil(bytes / BUCKET_BYTES)
  const head = `| N | ${LINKS.map((l) => `${l.name}: step ms (efficiency)`).join(' | ')} | InfiniBand, one call per tensor |`
  const rows = WORLD.map((n) => {
    const cells = LINKS.map((l) => {
      if (n > l.maxGpus) return 'n/a'
      const t = computeS + ringAllReduce(bytes, n, l, buckets)
      return `${(t * 1e3).toFixed(1)} (${((100 * computeS) / t).toFixed(0)} %)`
    })
    const perTensor = computeS + ringAllReduce(bytes, n, LINKS[1]!, tensors)
    return `| ${n} | ${cells.join(' | ')} | ${(perTensor * 1e3).toFixed(1)} (${((100 * computeS) / perTensor).toFixed(0)} %) |`
  })
  return [`**${title}** (compute ${(computeS * 1e3).toFixed(1)} ms per step; efficiency = compute ÷ step time)`, '', head, `|---|${LINKS.map(() => '---|').join('')}---|`, ...rows].join('\n')
}

const gpuArg = process.argv.indexOf('--gpu-ms')
const m = await measure()
const bytes = 4 * m.params
const flops = 6 * m.params * m.tokens
const gpuS = gpuArg > 0 ? Number(process.argv[gpuArg + 1]) / 1e3 : (flops * GPU_BATCH) / (H100_FP32 * GPU_SHARE)
const gpuNote = gpuArg > 0 ? `measured: ${process.argv[gpuArg + 1]} ms` : `estimated: ${(flops * GPU_BATCH / 1e12).toFixed(2)} TFLOP ÷ (67 TFLOP/s FP32 × ${GPU_SHARE * 100} %)`
const text = [
  `Measured on ${machine()}: \`base\` has ${(m.params / 1e6).toFixed(1)} M parameters in ${m.tensors} tensors → G = ${(bytes / 2 ** 20).toFixed(0)} MiB of f32 gradient, ${Math.ceil(bytes / BUCKET_BYTES)} buckets of 25 MiB;`,
  `its train step at batch ${CPU_BATCH} took ${m.cpuMs.toFixed(0)} ms on this CPU (${((flops * CPU_BATCH) / (m.cpuMs / 1e3) / 1e9).toFixed(0)} GFLOP/s by 6 × parameters × ${m.tokens} tokens).`,
  '',
  table(`H100, batch ${GPU_BATCH} per GPU (${gpuNote})`, gpuS, bytes, m.tensors),
  '',
  table(`CPU nodes like this one, batch ${CPU_BATCH} per node (measured)`, m.cpuMs / 1e3, bytes, m.tensors),
].join('\n')
process.stdout.write(`${text}\n`)

const results = fileURLToPath(new URL('../../benches/RESULTS.md', import.meta.url))
if (existsSync(results)) {
  const [start, end] = ['<!-- scaling:start -->', '<!-- scaling:end -->']
  const old = readFileSync(results, 'utf8')
  const block = `${start}\n${text}\n${end}`
  writeFileSync(results, old.includes(start) ? old.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block) : `${old.trimEnd()}\n\n## Scaling on paper (benches/scaling.bench.ts)\n\n${block}\n`)
}
