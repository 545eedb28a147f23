/**
 * Inference against PyTorch running the same model (scripts/reference/bench_inference.py, op for op
 * `videobert_ref.Ref` under `torch.inference_mode`), `small` preset, 32 clips with their captions:
 *  - `embed(batch)` — the encoder's forward and the pooled outputs (what `embed` and the
 *    `word-profile`/`video` retrieval scorers start from);
 *  - `scoreMatch(batch)` — the forward and the matching head (the `match` retrieval scorer);
 *  - `maskLogProbs(batch, answers)` with one [MASK] per caption — the inner call of `retrieve`'s
 *    likelihood scorer, once per caption word piece.
 * Native runs in a child per thread count (CANDLE_NUM_THREADS / RAYON_NUM_THREADS), PyTorch with
 * `torch.set_num_threads`; medians of 6 calls after 2. PyTorch comes from `.venv-torch`
 * (`bash scripts/reference/setup-torch.sh`), or VIDEOBERT_TORCH_PYTHON; skipped with a note without it.
 * Writes its table into benches/RESULTS.md between the `inference-pytorch` markers.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

import { configToJson, presets, randomBatch, VideoBERT } from 'videobert-native'

import { machine, writeResults } from './common.js'

const BATCH = 32
const RUNS = 6
const WARMUP = 2
const config = presets.small

async function medianMs(f: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const t0 = performance.now()
    await f()
    if (i >= WARMUP) times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

type Times = { embed: number; match: number; mask: number }

async function nativeHere(threads: number): Promise<Times> {
  const model = await VideoBERT.create(config, { seed: 0, numThreads: threads })
  const batch = randomBatch(config, { batchSize: BATCH, seed: 3 })
  const L = config.maxTextLen
  const answers = Uint32Array.from({ length: BATCH }, (_, i) => batch.textIds[i * L]!)
  const masked = { ...batch, textIds: Uint32Array.from(batch.textIds) }
  for (let i = 0; i < BATCH; i++) masked.textIds[i * L] = config.maskTokenId
  const embed = await medianMs(() => model.embed(batch))
  const match = await medianMs(() => model.scoreMatch(batch))
  const mask = await medianMs(() => model.maskLogProbs(masked, answers))
  return { embed, match, mask }
}

if (process.env.VIDEOBERT_BENCH_CHILD_THREADS) {
  console.log(JSON.stringify(await nativeHere(Number(process.env.VIDEOBERT_BENCH_CHILD_THREADS))))
  process.exit(0)
}

function native(threads: number): Times {
  const env = { ...process.env, VIDEOBERT_BENCH_CHILD_THREADS: String(threads), CANDLE_NUM_THREADS: String(threads), RAYON_NUM_THREADS: String(threads) }
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { encoding: 'utf8', env })
  if (r.status !== 0) throw new Error(`native inference child failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Times
}

function pytorch(threads: number): (Times & { torch: string }) | string {
  const script = fileURLToPath(new URL('../../scripts/reference/bench_inference.py', import.meta.url))
  const venv = fileURLToPath(new URL('../../.venv-torch/bin/python', import.meta.url))
  const python = process.env.VIDEOBERT_TORCH_PYTHON ?? (existsSync(venv) ? venv : 'python3')
  const args = [script, '--config', configToJson(config), '--batch', String(BATCH), '--threads', String(threads), '--runs', String(RUNS), '--warmup', String(WARMUP)]
  const r = spawnSync(python, args, { encoding: 'utf8' })
  if (r.status !== 0) return `skipped: ${python} ${script} failed (${(r.stderr || String(r.error)).trim().split('\n').pop()})`
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { embed_ms: number; match_ms: number; mask_log_probs_ms: number; torch: string }
  return { embed: out.embed_ms, match: out.match_ms, mask: out.mask_log_probs_ms, torch: out.torch }
}

const rows: string[] = []
const notes: string[] = []
let torchVersion = ''
for (const threads of [1, 2]) {
  const n = native(threads)
  const t = pytorch(threads)
  if (typeof t === 'string') {
    notes.push(`PyTorch, ${threads} thread(s): ${t}`)
    continue
  }
  torchVersion = t.torch
  const clips = (ms: number) => `${((BATCH * 1000) / ms).toFixed(0)} clips/s`
  rows.push(`| ${threads} | \`embed\` | ${n.embed.toFixed(0)} ms (${clips(n.embed)}) | ${t.embed.toFixed(0)} ms (${clips(t.embed)}) | **${(t.embed / n.embed).toFixed(2)}×** |`)
  rows.push(`| ${threads} | \`scoreMatch\` (matching-head scorer) | ${n.match.toFixed(0)} ms (${clips(n.match)}) | ${t.match.toFixed(0)} ms (${clips(t.match)}) | **${(t.match / n.match).toFixed(2)}×** |`)
  rows.push(`| ${threads} | \`maskLogProbs\` (likelihood scorer) | ${n.mask.toFixed(0)} ms (${clips(n.mask)}) | ${t.mask.toFixed(0)} ms (${clips(t.mask)}) | **${(t.mask / n.mask).toFixed(2)}×** |`)
  console.log(rows.slice(-3).join('\n'))
}
const table = [
  `Inference, \`small\` preset, ${BATCH} clips per call, median of ${RUNS} calls after ${WARMUP} (${machine()}; PyTorch ${torchVersion || '—'} CPU; \`npm run bench\`):`,
  '',
  '| threads | call | native | PyTorch (same model) | native speed ÷ PyTorch |',
  '|---|---|---|---|---|',
  ...rows,
  ...(notes.length ? ['', ...notes] : []),
].join('\n')
writeResults('inference-pytorch', 'Inference against PyTorch (issue 29)', table)
console.log(table)
