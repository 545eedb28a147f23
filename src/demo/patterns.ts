/**
 * A second synthetic domain, unlike the demo's shapes: a full-frame two-tone texture (stripes,
 * checkers, dots or zigzags) in one of six palettes (warm, cool, gray, leafy, violet, sandy) that moves as a whole — drifting
 * leftward or rightward, or zooming inward or outward — captioned like "warm stripes move leftward".
 * There is no object and no background: colour comes from the palette, shape from the texture,
 * motion from global flow (translation vs expansion / contraction).
 *
 * It exists to check that the library's defaults learn on data they were not tuned on: tests
 * pre-train on it with defaults only and score the held-out clips.
 */
import { rng } from '../random.js'
import { writeClipSet, type ClipSetOptions, type WrittenSet } from './clip-set.js'

/** Each palette's two colours (RGB). */
export const PALETTES = {
  warm: [
    [250, 170, 40],
    [170, 40, 20],
  ],
  cool: [
    [70, 200, 230],
    [20, 50, 150],
  ],
  gray: [
    [225, 225, 225],
    [40, 40, 40],
  ],
  leafy: [
    [150, 225, 90],
    [25, 95, 35],
  ],
  violet: [
    [205, 140, 240],
    [75, 25, 115],
  ],
  sandy: [
    [240, 220, 170],
    [125, 100, 60],
  ],
} as const
export const TEXTURES = ['stripes', 'checkers', 'dots', 'zigzags'] as const
export const MOTIONS = ['leftward', 'rightward', 'inward', 'outward'] as const

export type Palette = keyof typeof PALETTES
export type Texture = (typeof TEXTURES)[number]
export type Motion = (typeof MOTIONS)[number]

/** The attribute words, by attribute (what fill-in-the-blank masks). */
export const PATTERN_WORDS = { palette: Object.keys(PALETTES) as Palette[], texture: [...TEXTURES], motion: [...MOTIONS] }

/** Caption templates; test captions always use the first. */
const TEMPLATES = ['{p} {t} move {m}', 'the {p} {t} are moving {m}', 'a pattern of {p} {t} moves {m}', 'we see {p} {t} drifting {m}']

/** A prompt per attribute for prompt classifiers (pooling 'mask'): the first template up to the attribute, the words before it masked. */
export const PATTERN_PROMPTS = { palette: '[MASK]', texture: '[MASK] [MASK]', motion: '[MASK] [MASK] move [MASK]' } as const

export const PATTERN_FRAME = 128

export interface PatternClip {
  id: string
  split: 'train' | 'test'
  palette: Palette
  texture: Texture
  motion: Motion
  caption: string
  duration: number
  /** Texture period in pixels. */
  period: number
  /** Pixels per second (drift) or relative scale change per second (zoom). */
  speed: number
  /** Texture phase (pixels) and orientation jitter (radians). */
  phase: number
  tilt: number
  noiseSeed: number
}

export interface PatternOptions {
  /** Training clips per (palette, texture, motion) combination (96 combinations). @default 3 */
  trainPerCombination?: number
  /** Clip length in seconds. @default 4.8 */
  duration?: number
  /** @default 20 */
  frameRate?: number
  /** @default 0 */
  seed?: number
}

/** The clips of the set, deterministic given the options. */
export function planPatternClips(options: PatternOptions = {}): PatternClip[] {
  const { trainPerCombination = 3, duration = 4.8, seed = 0 } = options
  const next = rng(seed ^ 0x9a77e)
  const uniform = (a: number, b: number) => a + (b - a) * next()
  const clips: PatternClip[] = []
  for (const split of ['train', 'test'] as const) {
    const copies = split === 'test' ? 1 : trainPerCombination
    for (const palette of PATTERN_WORDS.palette) {
      for (const texture of TEXTURES) {
        for (const motion of MOTIONS) {
          for (let k = 0; k < copies; k++) {
            const zoom = motion === 'inward' || motion === 'outward'
            const template = split === 'test' ? TEMPLATES[0]! : TEMPLATES[Math.floor(next() * TEMPLATES.length)]!
            clips.push({
              id: `${split}-${palette}-${texture}-${motion}-${k}`,
              split,
              palette,
              texture,
              motion,
              caption: template.replace('{p}', palette).replace('{t}', texture).replace('{m}', motion),
              duration,
              period: uniform(14, 22),
              speed: zoom ? uniform(0.12, 0.18) : uniform(14, 22),
              phase: uniform(0, 40),
              tilt: uniform(-0.15, 0.15),
              noiseSeed: Math.floor(next() * 2 ** 31),
            })
          }
        }
      }
    }
  }
  return clips
}

/** The texture's tone at (u, v) in texture coordinates (one period = 1): 0 or 1, a little softened. */
function tone(texture: Texture, u: number, v: number): number {
  const fu = u - Math.floor(u)
  const fv = v - Math.floor(v)
  switch (texture) {
    case 'stripes':
      return fu < 0.5 ? 1 : 0
    case 'checkers':
      return (fu < 0.5) !== (fv < 0.5) ? 1 : 0
    case 'dots':
      return Math.hypot(fu - 0.5, fv - 0.5) < 0.3 ? 1 : 0
    case 'zigzags': {
      const tri = Math.abs(2 * fv - 1) // a triangle wave across v shifts the stripes along u
      const w = u + 0.5 * tri
      return w - Math.floor(w) < 0.5 ? 1 : 0
    }
  }
}

/** Frames of one clip, packed RGB24 (`frames × 128 × 128 × 3` bytes), with ±4 per-frame noise. */
export function renderPatternClip(clip: PatternClip, frameRate = 20): Uint8Array {
  const S = PATTERN_FRAME
  const n = Math.round(clip.duration * frameRate)
  const out = new Uint8Array(n * S * S * 3)
  const [a, b] = PALETTES[clip.palette]
  const cos = Math.cos(clip.tilt)
  const sin = Math.sin(clip.tilt)
  const next = rng(clip.noiseSeed)
  const c = S / 2
  for (let f = 0; f < n; f++) {
    const t = f / frameRate
    // Drift: the texture slides along x. Zoom: it is scaled about the centre (inward = it grows,
    // the eye moves in; outward = it shrinks), exponentially so the speed looks constant.
    const shift = clip.motion === 'leftward' ? clip.speed * t : clip.motion === 'rightward' ? -clip.speed * t : 0
    const scale = clip.motion === 'inward' ? Math.exp(clip.speed * t) : clip.motion === 'outward' ? Math.exp(-clip.speed * t) : 1
    const frame = out.subarray(f * S * S * 3, (f + 1) * S * S * 3)
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const dx = (x - c) / scale + shift
        const dy = (y - c) / scale
        const u = (cos * dx - sin * dy + clip.phase) / clip.period
        const v = (sin * dx + cos * dy + clip.phase) / clip.period
        const on = tone(clip.texture, u, v)
        const r = Math.floor(next() * 4294967296)
        const o = (y * S + x) * 3
        for (let ch = 0; ch < 3; ch++) {
          const value = (on ? a[ch]! : b[ch]!) + (((r >>> (ch * 8)) & 0xff) % 9) - 4
          frame[o + ch] = value < 0 ? 0 : value > 255 ? 255 : value
        }
      }
    }
  }
  return out
}

/** Render the pattern set into `dir` (videos, train.jsonl, test.jsonl with `{ palette, texture, motion }` labels). */
export function writePatternSet(dir: string, options: PatternOptions & ClipSetOptions = {}): Promise<WrittenSet<PatternClip>> {
  const frameRate = options.frameRate ?? 20
  return writeClipSet(
    dir,
    planPatternClips(options),
    (c) => renderPatternClip(c, frameRate),
    { width: PATTERN_FRAME, height: PATTERN_FRAME, frameRate, gop: frameRate, codec: 'mpeg4', quality: 4 },
    (c) => ({ palette: c.palette, texture: c.texture, motion: c.motion }),
    options,
  )
}
