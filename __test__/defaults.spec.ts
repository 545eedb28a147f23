/**
 * Do the defaults learn on data they were not tuned on? The second synthetic domain (textures in
 * palettes, drifting or zooming: `src/demo/patterns.ts`) is pre-trained the way docs/pretraining.md tells a
 * user — `videobert vocab`, `tokenize`, `pretrain --preset tiny --steps 2000`, nothing else given,
 * relative paths from the project folder — and its held-out test clips are scored: fill-in-the-blank
 * of each caption attribute ≥ 3× chance, text→video R@1 (the default scorer) ≥ 10× chance.
 * The training run is a slow suite (~11 min on 2 cores): VIDEOBERT_SLOW=1.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { fillInTheBlank, loadPretrained, textToVideoRetrieval, TokenShards, VideoTextDataset } from '../src/index.js'
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

describe('pretrain --help', () => {
  it('shows the learning rate and batch size each preset defaults to', () => {
    const r = spawnSync(process.execPath, [cli, 'pretrain', '--help'], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stdout).toContain(`tiny ${PRESET_TRAINING.tiny.lr}`)
    expect(r.stdout).toContain(`base ${PRESET_TRAINING.base.batchSize}`)
  })
})

describe.runIf(process.env.VIDEOBERT_SLOW === '1')('defaults on the second domain (slow)', () => {
  it('vocab → tokenize → pretrain --preset tiny --steps 2000 learns: held-out blanks ≥ 3× chance, R@1 ≥ 10× chance', async () => {
    const project = tempDir('defaults-project')
    await writePatternSet(join(project, 'data'), {})
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, [cli, ...args], { cwd: project, encoding: 'utf8', timeout: 1_500_000 })
      expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(0)
      return r
    }
    run('vocab', '--manifest', 'data/train.jsonl', '--out', 'tokenizer.json')
    run('tokenize', 'data/train.jsonl', '--out', 'tokens/train')
    run('tokenize', 'data/test.jsonl', '--out', 'tokens/test')
    const trained = run('pretrain', '--data', 'tokens/train', '--tokenizer', 'tokenizer.json', '--out', 'runs/first', '--preset', 'tiny', '--steps', '2000', '--json')
    const fit = JSON.parse(trained.stdout)
    expect(fit.step).toBe(2000)

    const p = await loadPretrained(join(project, 'runs', 'first', 'checkpoints', 'step-2000'))
    const test = new VideoTextDataset(await TokenShards.open(join(project, 'tokens', 'test')), p.model.config, p.tokenizer, { validationFraction: 1, featureNorm: p.featureNorm ?? 'none' })
    const blanks = await fillInTheBlank(p.model, test, 'validation', PATTERN_WORDS)
    const retrieval = await textToVideoRetrieval(p.model, test, 'validation')
    console.log(JSON.stringify({ blanks, retrieval: { recall: retrieval.recall, chance: retrieval.chance, candidates: retrieval.candidates }, health: fit.health }))
    for (const [attr, m] of Object.entries(blanks)) expect(m.accuracy, attr).toBeGreaterThanOrEqual(3 * m.chance)
    expect(retrieval.candidates).toBe(96)
    expect(retrieval.recall[1]).toBeGreaterThanOrEqual(10 * retrieval.chance[1])
  }, 1_800_000)
})
