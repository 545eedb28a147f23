/**
 * Decode + sample (10 fps) + resize (112×112) + builtin features, frames/s, side by side:
 *  - native: `VideoTokenizer.tokenizeFile` (FFmpeg libraries in-process, features in Rust);
 *  - what a Node user does otherwise: spawn the `ffmpeg` CLI with the same fps and scale, read raw
 *    RGB from its stdout into Float32Arrays — alone, and followed by the same features in plain TS.
 * Inputs: lavfi's testsrc2 in H.264 720p and VP9 360p, and a 1080p H.264 High-profile clip with
 * B-frames whose every pixel moves (lavfi's mandelbrot zoom, x264 `medium`: real-content decoding
 * cost — CABAC, B-frames, full-frame motion — without a film clip, which this offline machine
 * cannot fetch). On each, `videobert tokenize CLIP` (the CLI's manifest path with default options)
 * is timed too: it used to give its one video's decoder a single thread.
 * Run: `npm run bench`. Frames = sampled frames (the same count for all three).
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { computeBuiltinFeatures, VideoTokenizer } from 'videobert-native'

import { BuiltinFeaturesTS } from './baselines/builtin-features.js'
import { clip, machine, median } from './common.js'

const FPS = 10
const SIZE = 112
const SEGMENT = 16

async function ffmpegPipe(path: string, withFeatures: boolean): Promise<{ frames: number; seconds: number }> {
  const t0 = performance.now()
  const proc = spawn('ffmpeg', ['-v', 'error', '-i', path, '-vf', `fps=${FPS},scale=${SIZE}:${SIZE}:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const frameBytes = SIZE * SIZE * 3
  const features = withFeatures ? new BuiltinFeaturesTS(2) : null
  const pooled = new Float32Array(4 * 44)
  let pending: Buffer = Buffer.alloc(0)
  let frames = 0
  for await (const chunk of proc.stdout) {
    pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer)
    while (pending.length >= frameBytes) {
      const rgb = Float32Array.from(pending.subarray(0, frameBytes))
      pending = pending.subarray(frameBytes)
      if (features) {
        const f = features.frame(rgb, SIZE, SIZE)
        if (frames % SEGMENT === 0) pooled.fill(0)
        for (let i = 0; i < f.length; i++) pooled[i]! += f[i]! / SEGMENT
      }
      frames++
    }
  }
  await new Promise((resolve) => proc.on('close', resolve))
  return { frames, seconds: (performance.now() - t0) / 1000 }
}

async function native(path: string): Promise<{ frames: number; seconds: number }> {
  const tok = new VideoTokenizer({ fps: FPS, frameSize: SIZE })
  const t0 = performance.now()
  const v = await tok.tokenizeFile(path)
  return { frames: v.sampledFrames, seconds: (performance.now() - t0) / 1000 }
}

/** `videobert tokenize CLIP --out DIR` with default options (wall seconds; frames from `--json`). */
function cli(path: string): { frames: number; seconds: number } {
  const out = mkdtempSync(join(tmpdir(), 'videobert-bench-'))
  const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [main, 'tokenize', path, '--out', join(out, 'tokens'), '--fps', String(FPS), '--frame-size', String(SIZE), '--json'], { encoding: 'utf8' })
  const seconds = (performance.now() - t0) / 1000
  rmSync(out, { recursive: true, force: true })
  if (r.status !== 0) throw new Error(`videobert tokenize failed: ${r.stderr}`)
  const summary = JSON.parse(r.stdout) as { progress: { frames: number } }
  return { frames: summary.progress.frames, seconds }
}

const inputs = [
  clip('h264-1280x720-30fps-20s.mp4', 'testsrc2=size=1280x720:rate=30:duration=20', ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']),
  clip('vp9-640x360-30fps-20s.webm', 'testsrc2=size=640x360:rate=30:duration=20', ['-c:v', 'libvpx-vp9', '-b:v', '1M', '-row-mt', '1']),
  clip('h264-high-bframes-1920x1080-24fps-30s.mp4', 'mandelbrot=size=1920x1080:rate=24,trim=duration=30', ['-c:v', 'libx264', '-preset', 'medium', '-profile:v', 'high', '-bf', '3', '-pix_fmt', 'yuv420p', '-b:v', '8M']),
]
console.log(`## decode + sample + resize + features — ${machine()}\n`)
console.log('| input | pipeline | sampled frames | seconds | frames/s | native ÷ this |')
console.log('|---|---|---|---|---|---|')
for (const path of inputs) {
  const name = path.split('/').pop()
  const n = await median(3, () => native(path))
  const tokenizeCli = await median(3, () => Promise.resolve(cli(path)))
  const pipe = await median(3, () => ffmpegPipe(path, false))
  const ts = await median(1, () => ffmpegPipe(path, true))
  for (const [label, r] of [
    ['native tokenizeFile (decode+sample+resize+features)', n],
    ['native `videobert tokenize CLIP` (CLI, defaults; + shard writing, Node start)', tokenizeCli],
    ['ffmpeg CLI pipe → Float32Array (no features)', pipe],
    ['ffmpeg CLI pipe → Float32Array + TS features', ts],
  ] as const) {
    const fps = r.frames / r.seconds
    console.log(`| ${name} | ${label} | ${r.frames} | ${r.seconds.toFixed(2)} | ${fps.toFixed(1)} | ${(n.frames / n.seconds / fps).toFixed(2)}× |`)
  }
}

// Features alone, on identical frames (decoded once by the ffmpeg CLI): native vs plain TypeScript.
async function decodeFrames(path: string): Promise<{ rgb: Uint8Array; n: number }> {
  const proc = spawn('ffmpeg', ['-v', 'error', '-i', path, '-vf', `fps=${FPS},scale=${SIZE}:${SIZE}:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const chunks: Buffer[] = []
  for await (const c of proc.stdout) chunks.push(c as Buffer)
  const rgb = new Uint8Array(Buffer.concat(chunks))
  return { rgb, n: rgb.length / (SIZE * SIZE * 3) }
}
const { rgb, n: frameCount } = await decodeFrames(inputs[0]!)
// version 1 (`builtin`) is what the TypeScript baseline computes; builtin_v2 (the default) adds the glimpse
const nativeRun = (extractor: 'builtin' | 'builtin_v2') =>
  median(5, async () => {
    const t0 = performance.now()
    const out = await computeBuiltinFeatures(rgb, { numFrames: frameCount, width: SIZE, height: SIZE, extractor })
    return { seconds: (performance.now() - t0) / 1000, out }
  })
const nat = await nativeRun('builtin')
const natV2 = await nativeRun('builtin_v2')
const tsRun = await median(3, async () => {
  const t0 = performance.now()
  const f = new BuiltinFeaturesTS(2)
  const out = new Float32Array(frameCount * 4 * 44)
  for (let i = 0; i < frameCount; i++) out.set(f.frame(rgb.subarray(i * SIZE * SIZE * 3, (i + 1) * SIZE * SIZE * 3), SIZE, SIZE), i * 4 * 44)
  return { seconds: (performance.now() - t0) / 1000, out }
})
let maxDiff = 0
for (let i = 0; i < nat.out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(nat.out[i]! - tsRun.out[i]!))
console.log(`\n## builtin features alone, ${frameCount} frames of ${SIZE}×${SIZE} — ${machine()}\n`)
console.log('| implementation | seconds | frames/s | native ÷ this |')
console.log('|---|---|---|---|')
console.log(`| native computeBuiltinFeatures, builtin (Rust, all cores) | ${nat.seconds.toFixed(3)} | ${(frameCount / nat.seconds).toFixed(0)} | 1.00× |`)
console.log(`| native computeBuiltinFeatures, builtin_v2 (the default: + glimpse) | ${natV2.seconds.toFixed(3)} | ${(frameCount / natV2.seconds).toFixed(0)} | ${(natV2.seconds / nat.seconds).toFixed(2)}× |`)
console.log(`| plain TypeScript (benches/baselines/builtin-features.ts) | ${tsRun.seconds.toFixed(3)} | ${(frameCount / tsRun.seconds).toFixed(0)} | ${(tsRun.seconds / nat.seconds).toFixed(1)}× |`)
console.log(`\nsame features: max |native − TS| = ${maxDiff.toExponential(2)}`)
