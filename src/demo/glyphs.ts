/**
 * A third synthetic domain, where *which* object is in the clip is carried by its shape alone: one of
 * ten silhouettes (plus, cross, ring, star, heart, arrow, tee, ell, moon, bowtie) of one flat colour
 * moves across a static textured background (a few random low-contrast gratings), captioned like
 * "the white star moves left". The four colours are shared by every glyph and the background has
 * edges everywhere, so neither colour nor "there is an edge here" tells the glyphs apart — only the
 * arrangement of the object's own edges does.
 *
 * It exists to choose the builtin extractor's shape features on its dev split and to check them,
 * with the library's defaults, on its test split (`scripts/measure-defaults.mjs --set glyphs`,
 * the slow suite in `__test__/defaults.spec.ts`).
 */
import { rng } from '../random.js'
import { writeClipSet, type ClipSetOptions, type WrittenSet } from './clip-set.js'

export const GLYPHS = ['plus', 'cross', 'ring', 'star', 'heart', 'arrow', 'tee', 'ell', 'moon', 'bowtie'] as const
/** Glyph colours (RGB): named in the captions, shared by every glyph. */
export const GLYPH_COLOURS = { white: [235, 235, 235], yellow: [235, 215, 40], cyan: [40, 215, 235], pink: [240, 110, 190] } as const
export const GLYPH_DIRECTIONS = ['left', 'right', 'up', 'down'] as const

export type Glyph = (typeof GLYPHS)[number]
export type GlyphColour = keyof typeof GLYPH_COLOURS
export type GlyphDirection = (typeof GLYPH_DIRECTIONS)[number]

/** The attribute words, by attribute (what fill-in-the-blank masks). */
export const GLYPH_WORDS = { glyph: [...GLYPHS], colour: Object.keys(GLYPH_COLOURS) as GlyphColour[], direction: [...GLYPH_DIRECTIONS] }

/** Caption templates; test captions always use the first. */
const TEMPLATES = ['the {c} {g} moves {d}', 'the {c} {g} is moving {d}', 'one {c} {g} slides {d}', 'we see the {c} {g} going {d}']

/** A prompt per attribute for prompt classifiers (pooling 'mask'): the first template up to the attribute, the words before it masked. */
export const GLYPH_PROMPTS = { colour: 'the [MASK]', glyph: 'the [MASK] [MASK]', direction: 'the [MASK] [MASK] moves [MASK]' } as const

export const GLYPH_FRAME = 128

export interface GlyphClip {
  id: string
  split: 'train' | 'test'
  glyph: Glyph
  colour: GlyphColour
  direction: GlyphDirection
  caption: string
  duration: number
  /** Half the glyph's side, pixels. */
  radius: number
  /** Centre at t = 0 and velocity, pixels and pixels per second. */
  x0: number
  y0: number
  vx: number
  vy: number
  /** Seed of the background texture and of the pixel noise. */
  backgroundSeed: number
  noiseSeed: number
}

export interface GlyphOptions {
  /** Training clips per (glyph, colour, direction) combination (160 combinations). @default 2 */
  trainPerCombination?: number
  /** Clip length in seconds. @default 3.2 */
  duration?: number
  /** @default 20 */
  frameRate?: number
  /** @default 0 */
  seed?: number
}

/** The clips of the set, deterministic given the options. */
export function planGlyphClips(options: GlyphOptions = {}): GlyphClip[] {
  const { trainPerCombination = 2, duration = 3.2, seed = 0 } = options
  const next = rng(seed ^ 0x61f5)
  const uniform = (a: number, b: number) => a + (b - a) * next()
  const clips: GlyphClip[] = []
  for (const split of ['train', 'test'] as const) {
    const copies = split === 'test' ? 1 : trainPerCombination
    for (const glyph of GLYPHS) {
      for (const colour of GLYPH_WORDS.colour) {
        for (const direction of GLYPH_DIRECTIONS) {
          for (let k = 0; k < copies; k++) {
            const radius = uniform(13, 17)
            const speed = uniform(18, 26)
            const margin = radius + 3
            const travel = speed * duration
            const along = uniform(margin, GLYPH_FRAME - margin - travel) // the whole path stays in frame
            const across = uniform(margin, GLYPH_FRAME - margin)
            const horizontal = direction === 'left' || direction === 'right'
            const sign = direction === 'right' || direction === 'down' ? 1 : -1
            const start = sign > 0 ? along : GLYPH_FRAME - along
            const template = split === 'test' ? TEMPLATES[0]! : TEMPLATES[Math.floor(next() * TEMPLATES.length)]!
            clips.push({
              id: `${split}-${glyph}-${colour}-${direction}-${k}`,
              split,
              glyph,
              colour,
              direction,
              caption: template.replace('{c}', colour).replace('{g}', glyph).replace('{d}', direction),
              duration,
              radius,
              x0: horizontal ? start : across,
              y0: horizontal ? across : start,
              vx: horizontal ? sign * speed : 0,
              vy: horizontal ? 0 : sign * speed,
              backgroundSeed: Math.floor(next() * 2 ** 31),
              noiseSeed: Math.floor(next() * 2 ** 31),
            })
          }
        }
      }
    }
  }
  return clips
}

/** Is the point (u, v) of the glyph's square [−1, 1]² (v down) inside the silhouette? */
export const GLYPH_INSIDE: Record<Glyph, (u: number, v: number) => boolean> = {
  plus: (u, v) => (Math.abs(u) < 0.3 && Math.abs(v) < 0.95) || (Math.abs(v) < 0.3 && Math.abs(u) < 0.95),
  cross: (u, v) => GLYPH_INSIDE.plus((u + v) * Math.SQRT1_2, (v - u) * Math.SQRT1_2) && Math.max(Math.abs(u), Math.abs(v)) < 0.95,
  ring: (u, v) => Math.hypot(u, v) < 0.95 && Math.hypot(u, v) > 0.55,
  star: (u, v) => {
    const r = Math.hypot(u, v)
    const a = Math.atan2(v, u) + Math.PI / 2 // a point straight up
    return r < 0.4 + 0.55 * Math.pow(0.5 + 0.5 * Math.cos(5 * a), 3)
  },
  heart: (u, v) => {
    const x = u * 1.15
    const y = -v * 1.15 + 0.25
    return Math.pow(x * x + y * y - 1, 3) - x * x * y * y * y < 0
  },
  arrow: (u, v) => (u > -0.95 && u < 0.1 && Math.abs(v) < 0.25) || (u >= 0.1 && u < 0.95 && Math.abs(v) < (0.95 - u) * 1.05),
  tee: (u, v) => (v > -0.95 && v < -0.5 && Math.abs(u) < 0.95) || (Math.abs(u) < 0.25 && v > -0.95 && v < 0.95),
  ell: (u, v) => (u > -0.8 && u < -0.35 && v > -0.95 && v < 0.95) || (v > 0.5 && v < 0.95 && u > -0.8 && u < 0.8),
  moon: (u, v) => Math.hypot(u, v) < 0.95 && Math.hypot(u - 0.45, v) > 0.75,
  bowtie: (u, v) => Math.abs(u) < 0.95 && Math.abs(v) < Math.abs(u) * 0.95,
}

/** The static background: a grey level plus three random low-contrast gratings (±40 in all). */
function backgroundTexture(seed: number): Float32Array {
  const S = GLYPH_FRAME
  const next = rng(seed)
  const base = 60 + 50 * next()
  const waves = Array.from({ length: 3 }, () => ({ angle: Math.PI * next(), period: 6 + 18 * next(), phase: 2 * Math.PI * next(), amp: 8 + 7 * next() }))
  const out = new Float32Array(S * S)
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      let v = base
      for (const w of waves) v += w.amp * Math.sign(Math.sin(((x * Math.cos(w.angle) + y * Math.sin(w.angle)) / w.period) * 2 * Math.PI + w.phase))
      out[y * S + x] = v
    }
  }
  return out
}

/** Frames of one clip, packed RGB24 (`frames × 128 × 128 × 3` bytes), with ±3 per-frame noise. */
export function renderGlyphClip(clip: GlyphClip, frameRate = 20): Uint8Array {
  const S = GLYPH_FRAME
  const n = Math.round(clip.duration * frameRate)
  const out = new Uint8Array(n * S * S * 3)
  const background = backgroundTexture(clip.backgroundSeed)
  const colour = GLYPH_COLOURS[clip.colour]
  const inside = GLYPH_INSIDE[clip.glyph]
  const next = rng(clip.noiseSeed)
  for (let f = 0; f < n; f++) {
    const t = f / frameRate
    const cx = clip.x0 + clip.vx * t
    const cy = clip.y0 + clip.vy * t
    const frame = out.subarray(f * S * S * 3, (f + 1) * S * S * 3)
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const u = (x + 0.5 - cx) / clip.radius
        const v = (y + 0.5 - cy) / clip.radius
        const on = Math.abs(u) <= 1 && Math.abs(v) <= 1 && inside(u, v)
        const r = Math.floor(next() * 4294967296)
        const o = (y * S + x) * 3
        const bg = background[y * S + x]!
        for (let ch = 0; ch < 3; ch++) {
          const value = Math.round(on ? colour[ch]! : bg) + (((r >>> (ch * 8)) & 0xff) % 7) - 3
          frame[o + ch] = value < 0 ? 0 : value > 255 ? 255 : value
        }
      }
    }
  }
  return out
}

/** Render the glyph set into `dir` (videos, train.jsonl, test.jsonl with `{ glyph, colour, direction }` labels). */
export function writeGlyphSet(dir: string, options: GlyphOptions & ClipSetOptions = {}): Promise<WrittenSet<GlyphClip>> {
  const frameRate = options.frameRate ?? 20
  return writeClipSet(
    dir,
    planGlyphClips(options),
    (c) => renderGlyphClip(c, frameRate),
    { width: GLYPH_FRAME, height: GLYPH_FRAME, frameRate, gop: frameRate, codec: 'mpeg4', quality: 3 },
    (c) => ({ glyph: c.glyph, colour: c.colour, direction: c.direction }),
    options,
  )
}
