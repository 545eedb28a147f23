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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { presets, randomBatch, VideoBERT } from 'videobert-native'

import { machine, writeResults } from './common.js'

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

type Link = (typeof LINKS)[number]

/** A column of a table: its title and the step time at world size n (null where the link does not reach n). */
interface Column {
  title: string
  step: (n: number) => number | null
}

/** The columns for compute time `c`: each link with buckets after the backward pass (what the trainer does), then InfiniBand without bucketing and with buckets overlapped with the backward pass. */
function columns(c: number, bytes: number, tensors: number, links: Link[]): Column[] {
  const buckets = Math.ceil(bytes / BUCKET_BYTES)
  const ib = LINKS[1]!
  return [
    ...links.map((l) => ({ title: l.name, step: (n: number) => (n > l.maxGpus ? null : c + ringAllReduce(bytes, n, l, buckets)) })),
    { title: `${ib.name}, one call per tensor (no buckets)`, step: (n: number) => c + ringAllReduce(bytes, n, ib, tensors) },
    {
      // The backward pass is about 2/3 of the step; each bucket's all-reduce can run while the
      // layers before it are differentiated, so only what outlasts it, and the last bucket, remain.
      title: `${ib.name}, buckets overlapped with backward (not built yet)`,
      step: (n: number) => {
        const ar = ringAllReduce(bytes, n, ib, buckets)
        const last = ringAllReduce(BUCKET_BYTES, n, ib, 1)
        return n === 1 ? c : c + Math.max(last, ar - (2 / 3) * c)
      },
    },
  ]
}

function table(title: string, c: number, cols: Column[]): string {
  const head = `| N | ${cols.map((k) => `${k.title}: step ms (efficiency)`).join(' | ')} |`
  const rows = WORLD.map((n) => {
    const cells = cols.map((k) => {
      const t = k.step(n)
      return t === null ? 'n/a' : `${(t * 1e3).toFixed(1)} (${((100 * c) / t).toFixed(0)} %)`
    })
    return `| ${n} | ${cells.join(' | ')} |`
  })
  // Where it stops scaling: the first world size at which half the step is communication.
  const stops = cols.map((k) => {
    const n = WORLD.find((w) => (k.step(w) ?? 0) > 2 * c)
    return `${k.title}: ${n === undefined ? 'not within 512' : `N = ${n}`}`
  })
  return [
    `**${title}** (compute ${(c * 1e3).toFixed(1)} ms per step; efficiency = compute ÷ step time)`,
    '',
    head,
    `|---|${cols.map(() => '---|').join('')}`,
    ...rows,
    '',
    `Efficiency below 50 % from — ${stops.join('; ')}.`,
  ].join('\n')
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
  table(`H100, batch ${GPU_BATCH} per GPU (${gpuNote})`, gpuS, columns(gpuS, bytes, m.tensors, LINKS)),
  '',
  table(`CPU nodes like this one, batch ${CPU_BATCH} per node (measured)`, m.cpuMs / 1e3, columns(m.cpuMs / 1e3, bytes, m.tensors, LINKS.slice(1))),
].join('\n')
process.stdout.write(`${text}\n`)

writeResults('scaling', 'Scaling on paper (benches/scaling.bench.ts)', text)
