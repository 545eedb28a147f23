/**
 * The demo's captioned synthetic video set, made with the `ffmpeg` command line: one coloured shape
 * moving across a plain background per clip, captioned like "a red circle moves left".
 *
 * Every (colour, shape, direction) combination appears once in the test split (so each test caption
 * is unique and names exactly one clip) and `trainPerCombination` times in the train split, with
 * random start positions, speeds and background brightness.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'

import { VideoBertError } from '../errors.js'
import { rng } from '../random.js'

export const COLOURS = { red: 'e02020', orange: 'f08010', yellow: 'e8e020', green: '20b030', blue: '2050e8', purple: 'a030e0' } as const
export const SHAPES = ['circle', 'square', 'triangle', 'diamond'] as const
export const DIRECTIONS = ['left', 'right', 'up', 'down'] as const

export type Colour = keyof typeof COLOURS
export type Shape = (typeof SHAPES)[number]
export type Direction = (typeof DIRECTIONS)[number]

/** The attribute words, by attribute: what the fill-in-the-blank evaluation masks. */
export const ATTRIBUTE_WORDS = {
  colour: Object.keys(COLOURS) as Colour[],
  shape: [...SHAPES],
  direction: [...DIRECTIONS],
}

/** Caption templates; test captions always use the first. */
const TEMPLATES = ['a {c} {s} moves {d}', 'the {c} {s} is moving {d}', 'a {c} {s} slides {d}', 'we see a {c} {s} going {d}']

/** Alpha masks of the 32×32 sprites (FFmpeg expression syntax; X, Y are pixel coordinates). */
const SPRITE_ALPHA: Record<Shape, string> = {
  circle: 'lte(hypot(X-15.5,Y-15.5),15)',
  square: 'lte(max(abs(X-15.5),abs(Y-15.5)),12.5)',
  triangle: 'gte(Y+1,2*abs(X-15.5))*lte(Y,29)',
  diamond: 'lte(abs(X-15.5)+abs(Y-15.5),15.5)',
}

export const FRAME_SIZE = 160
const SPRITE = 32

export interface ClipSpec {
  id: string
  split: 'train' | 'test'
  colour: Colour
  shape: Shape
  direction: Direction
  caption: string
  /** Seconds. */
  duration: number
  /** Top-left corner of the sprite at t = 0 and its velocity, pixels and pixels/second. */
  x0: number
  y0: number
  vx: number
  vy: number
  /** Background grey level, 0–255. */
  background: number
  /** Seed of the clip's pixel noise (FFmpeg's own noise seed is random by default). */
  noiseSeed: number
}

export interface SyntheticOptions {
  /** Training clips per (colour, shape, direction) combination. @default 3 */
  trainPerCombination?: number
  /** Clip length in seconds. @default 3.2 */
  duration?: number
  /** Frame rate of the encoded clips. @default 20 */
  frameRate?: number
  /** @default 0 */
  seed?: number
}

/** The clips of the set, deterministic given the options (nothing is written). */
export function planClips(options: SyntheticOptions = {}): ClipSpec[] {
  const { trainPerCombination = 3, duration = 3.2, seed = 0 } = options
  const next = rng(seed ^ 0xde30)
  const uniform = (a: number, b: number) => a + (b - a) * next()
  const clips: ClipSpec[] = []
  for (const split of ['train', 'test'] as const) {
    const copies = split === 'test' ? 1 : trainPerCombination
    for (const colour of ATTRIBUTE_WORDS.colour) {
      for (const shape of SHAPES) {
        for (const direction of DIRECTIONS) {
          for (let k = 0; k < copies; k++) {
            const speed = uniform(20, 28)
            const travel = speed * duration
            const span = FRAME_SIZE - SPRITE - 8 // room for the sprite's top-left corner, 4 px margins
            const along = uniform(4, 4 + span - travel) // start so that the whole path stays in frame
            const across = uniform(4, 4 + span)
            const horizontal = direction === 'left' || direction === 'right'
            const sign = direction === 'right' || direction === 'down' ? 1 : -1
            const start = sign > 0 ? along : FRAME_SIZE - SPRITE - along
            const template = split === 'test' ? TEMPLATES[0]! : TEMPLATES[Math.floor(next() * TEMPLATES.length)]!
            clips.push({
              id: `${split}-${colour}-${shape}-${direction}-${k}`,
              split,
              colour,
              shape,
              direction,
              caption: template.replace('{c}', colour).replace('{s}', shape).replace('{d}', direction),
              duration,
              x0: horizontal ? start : across,
              y0: horizontal ? across : start,
              vx: horizontal ? sign * speed : 0,
              vy: horizontal ? 0 : sign * speed,
              background: Math.round(uniform(40, 110)),
              noiseSeed: Math.floor(next() * 2 ** 31),
            })
          }
        }
      }
    }
  }
  return clips
}

/** The `ffmpeg` arguments that render one clip to `out` (H.264 in MP4). */
export function ffmpegArgs(clip: ClipSpec, out: string, frameRate = 20): string[] {
  const hex = (v: number) => v.toString(16).padStart(2, '0')
  const bg = `0x${hex(clip.background).repeat(3)}`
  const d = clip.duration.toFixed(3)
  const sprite = `color=c=0x${COLOURS[clip.colour]}:s=${SPRITE}x${SPRITE}:r=${frameRate}:d=${d},format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='255*${SPRITE_ALPHA[clip.shape]}'`
  const move = `x='${clip.x0.toFixed(2)}+${clip.vx.toFixed(3)}*t':y='${clip.y0.toFixed(2)}+${clip.vy.toFixed(3)}*t'`
  return [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `color=c=${bg}:s=${FRAME_SIZE}x${FRAME_SIZE}:r=${frameRate}:d=${d}`,
    '-f', 'lavfi', '-i', sprite,
    '-filter_complex', `[0][1]overlay=${move}:shortest=1,noise=alls=3:allf=t:all_seed=${clip.noiseSeed},format=yuv420p`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '20', '-g', String(frameRate), '-threads', '1',
    out,
  ]
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    p.stderr.on('data', (c: Buffer) => (err += c.toString()))
    p.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new VideoBertError('Io', `the demo needs the \`${cmd}\` command to make its videos (Debian: apt-get install ffmpeg)`)
          : e,
      ),
    )
    p.on('close', (code) => (code === 0 ? resolve() : reject(new VideoBertError('Io', `${cmd} exited with ${code}: ${err.trim().split('\n').pop()}`))))
  })
}

export interface WrittenSet {
  clips: ClipSpec[]
  /** Manifests (JSONL, SPEC §2.3) of each split. */
  manifests: { train: string; test: string }
}

/**
 * Render the clips into `dir/videos` (clips of the same plan already there are kept: re-running is cheap) and write
 * `dir/train.jsonl` and `dir/test.jsonl` with the captions and `{ colour, shape, direction }` labels.
 */
export async function writeSyntheticSet(
  dir: string,
  options: SyntheticOptions & { workers?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<WrittenSet> {
  const clips = planClips(options)
  const videos = join(dir, 'videos')
  // Clips on disk are reused only if they were rendered from this very plan (same seed and options).
  const planPath = join(dir, 'plan.json')
  const plan = JSON.stringify({ clips, frameRate: options.frameRate ?? 20 })
  if (existsSync(planPath) && readFileSync(planPath, 'utf8') !== plan) rmSync(videos, { recursive: true, force: true })
  mkdirSync(videos, { recursive: true })
  writeFileSync(planPath, plan)
  const pathOf = (c: ClipSpec) => join(videos, `${c.id}.mp4`)
  const todo = clips.filter((c) => !existsSync(pathOf(c)))
  let done = clips.length - todo.length
  options.onProgress?.(done, clips.length)
  const workers = Math.max(1, options.workers ?? availableParallelism())
  let cursor = 0
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (cursor < todo.length) {
        if (options.signal?.aborted) throw new VideoBertError('Cancelled', 'cancelled')
        const c = todo[cursor++]!
        const tmp = `${pathOf(c)}.tmp.mp4` // renamed when complete: a half-written clip is never kept
        await run('ffmpeg', ffmpegArgs(c, tmp, options.frameRate))
        renameSync(tmp, pathOf(c))
        options.onProgress?.(++done, clips.length)
      }
    }),
  )
  const manifests = { train: join(dir, 'train.jsonl'), test: join(dir, 'test.jsonl') }
  for (const split of ['train', 'test'] as const) {
    const lines = clips
      .filter((c) => c.split === split)
      .map((c) =>
        JSON.stringify({
          id: c.id,
          video: pathOf(c),
          captions: [{ start: 0, end: c.duration, text: c.caption }],
          label: { colour: c.colour, shape: c.shape, direction: c.direction },
        }),
      )
    writeFileSync(manifests[split], `${lines.join('\n')}\n`)
  }
  return { clips, manifests }
}
