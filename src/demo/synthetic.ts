/**
 * The demo's captioned synthetic video set: one coloured shape moving across a plain background per
 * clip, captioned like "a red circle moves left", rendered here and encoded in-process by the addon's
 * own FFmpeg (MPEG-4 Part 2 in MP4) — no `ffmpeg` command line, and real compressed video to decode.
 *
 * Every (colour, shape, direction) combination appears once in the test split (so each test caption
 * is unique and names exactly one clip) and `trainPerCombination` times in the train split, with
 * random start positions, speeds and background brightness.
 */
import { rng } from '../random.js'
import { writeClipSet, type ClipSetOptions, type WrittenSet } from './clip-set.js'

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

/** A prompt per attribute for prompt classifiers (pooling 'mask'): the first template up to the attribute, the words before it masked. */
export const DEMO_PROMPTS = { colour: 'a [MASK]', shape: 'a [MASK] [MASK]', direction: 'a [MASK] [MASK] moves [MASK]' } as const

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
  /** Seed of the clip's pixel noise. */
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

/** Is pixel (x, y) of the 32×32 sprite inside the shape? (Pixel centres at integer coordinates.) */
const INSIDE: Record<Shape, (x: number, y: number) => boolean> = {
  circle: (x, y) => Math.hypot(x - 15.5, y - 15.5) <= 15,
  square: (x, y) => Math.max(Math.abs(x - 15.5), Math.abs(y - 15.5)) <= 12.5,
  triangle: (x, y) => y + 1 >= 2 * Math.abs(x - 15.5) && y <= 29,
  diamond: (x, y) => Math.abs(x - 15.5) + Math.abs(y - 15.5) <= 15.5,
}

/** Largest pixel noise added to each channel (uniform in ±NOISE, new every frame). */
const NOISE = 3

/**
 * The clip's frames as packed RGB24 (`frames × 160 × 160 × 3` bytes): a grey background, the sprite
 * at its position at time `i / frameRate` (on even pixels), and seeded per-frame noise.
 */
export function renderClip(clip: ClipSpec, frameRate = 20): Uint8Array {
  const n = Math.round(clip.duration * frameRate)
  const px = FRAME_SIZE * FRAME_SIZE
  const out = new Uint8Array(n * px * 3)
  const hex = COLOURS[clip.colour]
  const colour = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16))
  const inside = INSIDE[clip.shape]
  const mask = new Uint8Array(SPRITE * SPRITE)
  for (let y = 0; y < SPRITE; y++) for (let x = 0; x < SPRITE; x++) mask[y * SPRITE + x] = inside(x, y) ? 1 : 0
  const next = rng(clip.noiseSeed)
  const noise = 2 * NOISE + 1
  for (let f = 0; f < n; f++) {
    const t = f / frameRate
    // Whole, even pixel positions, as FFmpeg's overlay filter places a picture on 4:2:0 video (how
    // the clips were made before they were encoded in-process): the shape moves in 2-pixel steps.
    const sx = Math.trunc(clip.x0 + clip.vx * t) & ~1
    const sy = Math.trunc(clip.y0 + clip.vy * t) & ~1
    const frame = out.subarray(f * px * 3, (f + 1) * px * 3)
    for (let y = 0; y < FRAME_SIZE; y++) {
      for (let x = 0; x < FRAME_SIZE; x++) {
        const u = x - sx
        const v = y - sy
        const on = u >= 0 && u < SPRITE && v >= 0 && v < SPRITE && mask[v * SPRITE + u] === 1
        // One 32-bit draw gives the three channels' noise.
        const r = Math.floor(next() * 4294967296)
        const o = (y * FRAME_SIZE + x) * 3
        for (let c = 0; c < 3; c++) {
          const value = (on ? colour[c]! : clip.background) + (((r >>> (c * 8)) & 0xff) % noise) - NOISE
          frame[o + c] = value < 0 ? 0 : value > 255 ? 255 : value
        }
      }
    }
  }
  return out
}

/** How the clips are encoded: FFmpeg's own MPEG-4 Part 2 encoder at a fixed quantiser, in MP4. */
export const CLIP_ENCODING = { codec: 'mpeg4', quality: 3 } as const

/**
 * Render the clips into `dir/videos` (clips of the same plan already there are kept: re-running is cheap) and write
 * `dir/train.jsonl` and `dir/test.jsonl` with the captions, `{ colour, shape, direction }` labels and one question
 * per attribute (`DEMO_QUESTIONS`).
 */
export function writeSyntheticSet(dir: string, options: SyntheticOptions & ClipSetOptions = {}): Promise<WrittenSet<ClipSpec>> {
  const frameRate = options.frameRate ?? 20
  return writeClipSet(
    dir,
    planClips(options),
    (c) => renderClip(c, frameRate),
    { width: FRAME_SIZE, height: FRAME_SIZE, frameRate, gop: frameRate, ...CLIP_ENCODING },
    (c) => ({ colour: c.colour, shape: c.shape, direction: c.direction }),
    options,
    (c) => ({ questions: demoQuestions(c) }),
  )
}

/**
 * The questions every demo clip carries (for `finetune --task qa`), one per attribute. Short on
 * purpose: the demo's vocabulary comes from its captions, so "colour" or "which" are spelled out in
 * single-letter pieces, and the whole question must fit the demo's 12 text tokens.
 */
export const DEMO_QUESTIONS = { colour: 'what colour', shape: 'what shape', direction: 'which way' } as const

/** A clip's three questions; the choices are every value of the attribute (for multiple-choice QA). */
export function demoQuestions(c: Pick<ClipSpec, 'colour' | 'shape' | 'direction'>): { question: string; answer: string; type: string; choices: string[] }[] {
  return (['colour', 'shape', 'direction'] as const).map((type) => ({ question: DEMO_QUESTIONS[type], answer: c[type], type, choices: [...ATTRIBUTE_WORDS[type]] }))
}
