/**
 * Do the defaults learn on data they were not tuned on? Two synthetic domains besides the demo —
 * textures in palettes, drifting or zooming (`src/demo/patterns.ts`), and glyphs whose identity is
 * only their shape, moving over a textured background (`src/demo/glyphs.ts`) — are pre-trained the
 * way docs/pretraining.md tells a user — `videobert vocab`, `tokenize`, `pretrain --preset tiny
 * --steps 2000`, nothing else given, relative paths from the project folder — and their held-out test
 * clips are scored: fill-in-the-blank of each caption attribute ≥ 3× chance, text→video R@1 (the
 * default scorer) ≥ 10× chance. The glyphs are tokenized with `--extractor builtin_v2` (the glimpse;
 * with the default `builtin` their identity stays at chance) and their identity must reach ≥ 6× chance;
 * with 10 % of the labels, the prompt classifier on the checkpoint beats training from scratch on the
 * identity by ≥ 10 points (docs/using-a-model.md, "Does pre-training help?").
 * The training runs are slow suites (~5 min each on 2 cores): VIDEOBERT_SLOW=1.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { fillInTheBlank, loadPretrained, textToVideoRetrieval, TokenShards, VideoTextDataset } from '../src/index.js'
import { GLYPH_COLOURS, GLYPH_FRAME, GLYPH_PROMPTS, GLYPH_WORDS, GLYPHS, planGlyphClips, renderGlyphClip, writeGlyphSet } from '../src/demo/glyphs.js'
import { labelEfficiency } from '../src/demo/label-efficiency.js'
import { MOTIONS, PATTERN_FRAME, PATTERN_WORDS, PALETTES, planPatternClips, renderPatternClip, writePatternSet } from '../src/demo/patterns.js'
import { PRESET_TRAINING } from '../src/training/pretrain.js'
import { tempDir } from './helpers.js'

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')

describe('the pattern set (the second domain)', () => {
  it('has every palette × texture × motion once in test, unique test captions, and is deterministic', () => {
    const clips = planPatternClips({ seed: 3 })
    const test = clips.filter((c) => c.split === 'test')
    expect(test).toHaveLength(6 * 4 * 4)
    expect(new Set(test.map((c) => c.caption)).size).toBe(96)
    expect(clips.filter((c) => c.split === 'train')).toHaveLength(3 * 96)
    expect(planPatternClips({ seed: 3 })).toEqual(clips)
    expect(planPatternClips({ seed: 4 })).not.toEqual(clips)
    for (const c of clips) for (const w of [c.palette, c.texture, c.motion]) expect(c.caption.split(' ')).toContain(w)
  })

  it('renders in the palette, and moves: drift shifts the frame sideways, zoom scales it about the centre', () => {
    const [clip] = planPatternClips({ seed: 0 }).filter((c) => c.split === 'test' && c.palette === 'violet' && c.texture === 'stripes' && c.motion === 'leftward')
    const S = PATTERN_FRAME
    const frames = renderPatternClip({ ...clip!, tilt: 0 }, 20)
    expect(frames.length).toBe(96 * S * S * 3) // 4.8 s at 20 fps
    const px = (f: number, x: number, y: number) => Array.from(frames.subarray((f * S * S + y * S + x) * 3, (f * S * S + y * S + x) * 3 + 3))
    const near = (a: number[], b: readonly number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 4)
    const [light, dark] = PALETTES.violet
    for (const f of [0, 50, 95]) for (const x of [0, 40, 90]) expect(near(px(f, x, 60), light) || near(px(f, x, 60), dark)).toBe(true)
    // Leftward drift: what is at x + shift now was at x a frame earlier (the texture slides left).
    const shift = clip!.speed / 20
    const tone = (f: number, x: number) => (near(px(f, x, 60), light) ? 1 : 0)
    let agree = 0
    let total = 0
    for (let x = 10; x < S - 10; x++) {
      const moved = Math.round(x - shift * 10)
      if (moved < 0) continue
      total++
      if (tone(10, moved) === tone(0, x)) agree++
    }
    expect(agree / total).toBeGreaterThan(0.9)
    expect(MOTIONS).toEqual(['leftward', 'rightward', 'inward', 'outward'])
  })
})

describe('the glyph set (the third domain)', () => {
  it('has every glyph × colour × direction once in test, unique test captions, and is deterministic', () => {
    const clips = planGlyphClips({ seed: 3 })
    const test = clips.filter((c) => c.split === 'test')
    expect(test).toHaveLength(10 * 4 * 4)
    expect(new Set(test.map((c) => c.caption)).size).toBe(160)
    expect(clips.filter((c) => c.split === 'train')).toHaveLength(2 * 160)
    expect(planGlyphClips({ seed: 3 })).toEqual(clips)
    expect(planGlyphClips({ seed: 4 })).not.toEqual(clips)
    for (const c of clips) for (const w of [c.glyph, c.colour, c.direction]) expect(c.caption.split(' ')).toContain(w)
  })

  it('draws the glyph in one flat colour over a static textured background, moving as planned', () => {
    const [clip] = planGlyphClips({ seed: 0 }).filter((c) => c.split === 'test' && c.glyph === 'ring' && c.colour === 'yellow' && c.direction === 'right')
    const S = GLYPH_FRAME
    const frames = renderGlyphClip(clip!, 20)
    expect(frames.length).toBe(64 * S * S * 3) // 3.2 s at 20 fps
    const px = (f: number, x: number, y: number) => Array.from(frames.subarray((f * S * S + y * S + x) * 3, (f * S * S + y * S + x) * 3 + 3))
    const near = (a: number[], b: readonly number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 3)
    const yellow = GLYPH_COLOURS.yellow
    for (const f of [0, 40]) {
      const cx = Math.floor(clip!.x0 + (clip!.vx * f) / 20)
      const cy = Math.floor(clip!.y0)
      const r = clip!.radius
      expect(near(px(f, cx + Math.round(0.75 * r), cy), yellow), `frame ${f}: on the ring`).toBe(true)
      expect(near(px(f, cx, cy), yellow), `frame ${f}: the ring's hole`).toBe(false)
    }
    // The background has edges (several grey levels) and does not move: a far corner is the same in every frame.
    const corner = [0, 20, 63].map((f) => px(f, 2, clip!.y0 > S / 2 ? 2 : S - 3)[0]!)
    expect(Math.max(...corner) - Math.min(...corner)).toBeLessThanOrEqual(6)
    const row = Array.from({ length: S }, (_, x) => px(0, x, clip!.y0 > S / 2 ? 4 : S - 5)[0]!)
    expect(Math.max(...row) - Math.min(...row)).toBeGreaterThan(20)
    expect(GLYPHS).toHaveLength(10)
  })
})

describe('pretrain --help', () => {
  it('shows the learning rate and batch size each preset defaults to', () => {
    const r = spawnSync(process.execPath, [cli, 'pretrain', '--help'], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stdout).toContain(`tiny ${PRESET_TRAINING.tiny.lr}`)
    expect(r.stdout).toContain(`base ${PRESET_TRAINING.base.batchSize}`)
  })
})

/** Pre-train `write`'s set as a user would (CLI, defaults, relative paths) and score its test clips. */
async function userRun(write: (dir: string) => Promise<unknown>, words: Record<string, string[]>, tokenizeFlags: string[] = []) {
  const project = tempDir('defaults-project')
  await write(join(project, 'data'))
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: project, encoding: 'utf8', timeout: 1_500_000 })
    expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(0)
    return r
  }
  run('vocab', '--manifest', 'data/train.jsonl', '--out', 'tokenizer.json')
  run('tokenize', 'data/train.jsonl', '--out', 'tokens/train', ...tokenizeFlags)
  run('tokenize', 'data/test.jsonl', '--out', 'tokens/test', ...tokenizeFlags)
  const trained = run('pretrain', '--data', 'tokens/train', '--tokenizer', 'tokenizer.json', '--out', 'runs/first', '--preset', 'tiny', '--steps', '2000', '--json')
  const fit = JSON.parse(trained.stdout)
  expect(fit.step).toBe(2000)

  const p = await loadPretrained(join(project, 'runs', 'first', 'checkpoints', 'step-2000'))
  const test = new VideoTextDataset(await TokenShards.open(join(project, 'tokens', 'test')), p.model.config, p.tokenizer, { validationFraction: 1, featureNorm: p.featureNorm ?? 'none' })
  const blanks = await fillInTheBlank(p.model, test, 'validation', words)
  const retrieval = await textToVideoRetrieval(p.model, test, 'validation')
  console.log(JSON.stringify({ blanks, retrieval: { recall: retrieval.recall, chance: retrieval.chance, candidates: retrieval.candidates }, health: fit.health }))
  return { blanks, retrieval, project, checkpoint: join(project, 'runs', 'first', 'checkpoints', 'step-2000') }
}

describe.runIf(process.env.VIDEOBERT_SLOW === '1')('defaults on the other domains (slow)', () => {
  it('patterns: vocab → tokenize → pretrain --preset tiny --steps 2000 learns: held-out blanks ≥ 3× chance, R@1 ≥ 10× chance', async () => {
    const { blanks, retrieval } = await userRun((dir) => writePatternSet(dir, {}), PATTERN_WORDS)
    for (const [attr, m] of Object.entries(blanks)) expect(m.accuracy, attr).toBeGreaterThanOrEqual(3 * m.chance)
    expect(retrieval.candidates).toBe(96)
    expect(retrieval.recall[1]).toBeGreaterThanOrEqual(10 * retrieval.chance[1])
  }, 1_800_000)

  it('glyphs, tokenized --extractor builtin_v2: tells the glyphs apart by shape alone: identity ≥ 6× chance, colour and direction ≥ 3×, R@1 ≥ 10× chance', async () => {
    const { blanks, retrieval, project, checkpoint } = await userRun((dir) => writeGlyphSet(dir, {}), GLYPH_WORDS, ['--extractor', 'builtin_v2'])
    expect(blanks.glyph!.accuracy).toBeGreaterThanOrEqual(6 * blanks.glyph!.chance)
    for (const [attr, m] of Object.entries(blanks)) expect(m.accuracy, attr).toBeGreaterThanOrEqual(3 * m.chance)
    expect(retrieval.candidates).toBe(160)
    expect(retrieval.recall[1]).toBeGreaterThanOrEqual(10 * retrieval.chance[1])
    // Pre-training pays off: with 10 % of the labels (3 per glyph), the prompt classifier beats the
    // best from-scratch recipe on the glyph's identity by ≥ 10 points (mean of 3 seeds).
    const le = await labelEfficiency({ checkpoint, train: join(project, 'tokens', 'train'), test: join(project, 'tokens', 'test'), out: join(project, 'label-efficiency'), labels: ['glyph', 'direction'], prompts: GLYPH_PROMPTS })
    console.log(JSON.stringify(le.summary))
    expect(le.rows).toHaveLength(6)
    expect(le.summary.glyph!.gainPoints).toBeGreaterThanOrEqual(10)
    expect(le.summary.direction!.pretrained).toBeGreaterThanOrEqual(le.summary.direction!.scratch)
  }, 1_800_000)
})
