/**
 * Multi-head attention forward + backward (with its Q/K/V/output projections) at the `small`
 * preset's two shapes — spatial `[B·T, R+1, H]` = [128, 5, 256] and joint `[B, S, H]` = [8, 51, 256],
 * 4 heads, batch 8 — native (the fused kernel; the composed candle ops it replaced as a second
 * row), PyTorch CPU eager (`scripts/reference/bench_attention.py`) and TensorFlow.js on its pure-JS
 * `cpu` backend, at 1 and 2 threads (tfjs: always 1). The native side is the Rust example
 * `attention_speed` (built by `npm run bench`), run with candle's pools sized to the thread count.
 * Writes its table into benches/RESULTS.md between the `attention` markers.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { tfjsAttention } from './baselines/videobert-tfjs.js'
import { machine } from './common.js'

const shapes = [
  { name: 'spatial', n: 128, s: 5 },
  { name: 'joint', n: 8, s: 51 },
]
const H = 256
const HEADS = 4
const root = fileURLToPath(new URL('../../', import.meta.url))
const target = process.env.VIDEOBERT_TARGET ?? 'x86_64-unknown-linux-gnu'
const example = `${root}target/${target}/release/examples/attention_speed`

function native(n: number, s: number, threads: number): { fused: number; composed: number } {
  const env = { ...process.env, RAYON_NUM_THREADS: String(threads), CANDLE_NUM_THREADS: String(threads) }
  const r = spawnSync(example, [n, s, H, HEADS].map(String), { encoding: 'utf8', env })
  if (r.status !== 0) throw new Error(`${example} failed: ${r.stderr || String(r.error)}`)
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { impl: string; ms: number })
  return { fused: rows.find((x) => x.impl === 'fused')!.ms, composed: rows.find((x) => x.impl === 'composed')!.ms }
}

function pytorch(n: number, s: number, threads: number): number | null {
  const venv = `${root}.venv-torch/bin/python`
  const python = process.env.VIDEOBERT_TORCH_PYTHON ?? (existsSync(venv) ? venv : 'python3')
  const r = spawnSync(python, [`${root}scripts/reference/bench_attention.py`, '--n', String(n), '--s', String(s), '--h', String(H), '--heads', String(HEADS), '--threads', String(threads)], { encoding: 'utf8' })
  if (r.status !== 0) return null
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number }).ms
}

const rows: string[] = []
for (const shape of shapes) {
  let js: number | null = null
  try {
    js = tfjsAttention(shape.n, shape.s, H, HEADS)
  } catch {
    js = null
  }
  for (const threads of [1, 2]) {
    const nat = native(shape.n, shape.s, threads)
    const torch = pytorch(shape.n, shape.s, threads)
    const ratio = (peer: number | null) => (peer === null ? '—' : `${(peer / nat.fused).toFixed(2)}×`)
    rows.push(
      `| ${shape.name} [${shape.n}, ${shape.s}, ${H}] | ${threads} | ${nat.fused.toFixed(2)} ms | ${nat.composed.toFixed(2)} ms | ${torch === null ? 'skipped' : `${torch.toFixed(2)} ms`} | ${js === null ? 'skipped' : `${js.toFixed(1)} ms`} | ${ratio(nat.composed)} | ${ratio(torch)} | ${ratio(js)} |`,
    )
    console.log(rows.at(-1))
  }
}
const table = [
  '<!-- attention:begin -->',
  `Attention forward + backward, projections included, ${HEADS} heads, median of 20 (${machine()}; \`npm run bench\`):`,
  '',
  '| shape | threads | native fused | native composed (before) | PyTorch CPU eager | tfjs `cpu` (1 thread) | fused ÷ composed | fused ÷ PyTorch | fused ÷ tfjs |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '<!-- attention:end -->',
].join('\n')
const resultsPath = `${root}benches/RESULTS.md`
const results = readFileSync(resultsPath, 'utf8')
const marked = /<!-- attention:begin -->[\s\S]*<!-- attention:end -->/
writeFileSync(resultsPath, marked.test(results) ? results.replace(marked, table) : `${results.trimEnd()}\n\n### Attention (issue 13)\n\n${table}\n`)
console.log(table)
