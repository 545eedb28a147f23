import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

import { aggregateFigures, meanSd } from '../src/demo/seeds.js'
import { planClips, renderClip, ATTRIBUTE_WORDS, COLOURS, FRAME_SIZE } from '../src/demo/synthetic.js'
import { fillMask, loadPretrained, VideoTokenizer } from '../src/index.js'
import { expectCode, tempDir } from './helpers.js'

const fixtures = fileURLToPath(new URL('./fixtures/video/', import.meta.url))

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')

describe('the synthetic set', () => {
  it('has every combination once in test, with unique captions, and deterministic clips', () => {
    const clips = planClips({ trainPerCombination: 2, seed: 5 })
    const test = clips.filter((c) => c.split === 'test')
    expect(test).toHaveLength(6 * 4 * 4)
    expect(new Set(test.map((c) => c.caption)).size).toBe(96)
    expect(clips.filter((c) => c.split === 'train')).toHaveLength(192)
    expect(planClips({ trainPerCombination: 2, seed: 5 })).toEqual(clips)
    for (const c of clips) {
      // The sprite stays inside the 160×160 frame for the whole clip.
      for (const t of [0, c.duration]) {
        expect(c.x0 + c.vx * t).toBeGreaterThanOrEqual(0)
        expect(c.x0 + c.vx * t).toBeLessThanOrEqual(160 - 32)
        expect(c.y0 + c.vy * t).toBeGreaterThanOrEqual(0)
        expect(c.y0 + c.vy * t).toBeLessThanOrEqual(160 - 32)
      }
      expect(c.caption).toContain(`${c.colour} ${c.shape}`)
      expect(c.caption.endsWith(c.direction)).toBe(true)
      expect(Math.sign(c.vx || c.vy)).toBe(c.direction === 'right' || c.direction === 'down' ? 1 : -1)
    }
  })

  it('renders each clip: grey background, the sprite in its colour where the plan puts it, small noise', () => {
    const clip = planClips({ trainPerCombination: 1, seed: 0 }).find((c) => c.split === 'test' && c.colour === 'blue' && c.shape === 'square' && c.direction === 'right')!
    const frames = renderClip(clip, 20)
    const px = FRAME_SIZE * FRAME_SIZE * 3
    expect(frames.length).toBe(64 * px) // 3.2 s at 20 fps
    const at = (f: number, x: number, y: number) => Array.from(frames.subarray(f * px + (y * FRAME_SIZE + x) * 3, f * px + (y * FRAME_SIZE + x) * 3 + 3))
    const blue = [0, 2, 4].map((i) => parseInt(COLOURS.blue.slice(i, i + 2), 16))
    for (const f of [0, 63]) {
      const t = f / 20
      // The square's centre pixel is the sprite colour (±3 noise), a corner of the frame is background.
      const cx = (Math.trunc(clip.x0 + clip.vx * t) & ~1) + 16
      const cy = (Math.trunc(clip.y0 + clip.vy * t) & ~1) + 16
      at(f, cx, cy).forEach((v, c) => expect(Math.abs(v - blue[c]!)).toBeLessThanOrEqual(3))
      at(f, 0, 0).forEach((v) => expect(Math.abs(v - clip.background)).toBeLessThanOrEqual(3))
    }
    // The noise changes from frame to frame; the same clip renders identically.
    let changed = 0
    for (let i = 0; i < px; i++) if (frames[i] !== frames[px + i]) changed++ // noise: 6 in 7 values differ
    expect(changed / px).toBeGreaterThan(0.6)
    expect(renderClip(clip, 20)).toEqual(frames)
  })
})

describe('videobert demo --quick', () => {
  // Run as the README says, in a working directory of its own: the default --out is ./videobert-demo.
  const cwd = tempDir('demo')
  const out = join(cwd, 'videobert-demo')
  const ckpt = join(out, 'run', 'checkpoints', 'step-800')
  let demoResult: { retrieval: Record<string, { recall: Record<string, number>; medianRank: number }> } | null = null

  it('learns: held-out retrieval and fill-in-the-blank well above chance', () => {
    const r = spawnSync(process.execPath, [cli, 'demo', '--quick', '--json'], { encoding: 'utf8', timeout: 600_000, cwd })
    expect(r.status, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    demoResult = res
    expect(res.clips).toEqual({ train: 96, test: 96 })
    const ret = res.retrieval.likelihood
    expect(ret.queries).toBe(96)
    expect(ret.chance[1]).toBeCloseTo(1 / 96, 9)
    // Measured (deterministic, MPEG-4 clips, library defaults, 2026-12-01): R@1 0.583 (56× chance), R@5 0.958, colour 0.854 after the 800 quick steps.
    expect(ret.recall[1]).toBeGreaterThanOrEqual(5 * ret.chance[1])
    expect(ret.recall[5]).toBeGreaterThanOrEqual(3 * ret.chance[5])
    expect(res.fillInTheBlank.colour.accuracy).toBeGreaterThanOrEqual(2.5 * res.fillInTheBlank.colour.chance)
    expect(res.fillInTheBlank.shape.count).toBe(96)
    expect(res.train.steps).toBe(800)
    // The fast word-profile first stage (one pass per clip) ranks about as well as the likelihood (0.656 vs 0.583).
    expect(res.retrieval.words.recall[1]).toBeGreaterThanOrEqual(5 * res.retrieval.words.chance[1])
    // Greedy captions (measured: colour 0.896, shape 0.917, direction 0.354 after the quick run).
    expect(res.captions.perGroup.colour.count).toBe(96)
    expect(res.captions.perGroup.colour.accuracy).toBeGreaterThanOrEqual(2.5 * res.captions.perGroup.colour.chance)
    expect(res.captions.perGroup.shape.accuracy).toBeGreaterThanOrEqual(1.5 * res.captions.perGroup.shape.chance)
    expect(res.captions.examples[0].reference).toBe('a red circle moves left')
    expect(res.labelEfficiency).toBeNull()
    expect(res.goals).toHaveLength(7)
    expect(readdirSync(ckpt).sort()).toEqual(
      expect.arrayContaining(['config.json', 'feature_norm.json', 'model.safetensors', 'tokenizer.json', 'video_tokenizer.json']),
    )
    expect(existsSync(join(out, 'run', 'loss-curve.html'))).toBe(true)
  }, 600_000)

  it('fill-mask on the held-out clips names their colour from the video (API and CLI)', async () => {
    const p = await loadPretrained(ckpt)
    expect(p.videoTokenizer).toMatchObject({ fps: 10, framesPerSegment: 8, grid: 2, featureDim: 44, extractor: 'builtin' })
    const tokenizer = new VideoTokenizer(p.videoTokenizer!)
    const clips = planClips({ trainPerCombination: 1 }).filter((c, i) => c.split === 'test' && i % 2 === 0)
    let right = 0
    for (const c of clips) {
      const video = await tokenizer.tokenizeFile(join(out, 'data', 'videos', `${c.id}.mp4`))
      const [blank] = await fillMask(p, video, `a [MASK] ${c.shape} moves ${c.direction}`, { topK: 1, candidates: ATTRIBUTE_WORDS.colour })
      expect(blank!.predictions).toHaveLength(1)
      if (blank!.predictions[0]!.token === c.colour) right++
    }
    // Chance is 1/6; the quick demo's fill-in-the-blank colour accuracy is 0.854.
    expect(right / clips.length).toBeGreaterThanOrEqual(2.5 / 6)

    const c = clips[0]!
    const r = spawnSync(
      process.execPath,
      // Relative paths, from the directory above the demo's.
      [cli, 'fill-mask', '--checkpoint', 'videobert-demo/run/checkpoints/step-800', '--video', `videobert-demo/data/videos/${c.id}.mp4`, '--prompt', 'a [MASK] [MASK] moves [MASK]', '--top-k', '3', '--json'],
      { encoding: 'utf8', cwd },
    )
    expect(r.status, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res.blanks).toHaveLength(3)
    for (const b of res.blanks) {
      expect(b.predictions).toHaveLength(3)
      expect(b.predictions[0].probability).toBeGreaterThanOrEqual(b.predictions[1].probability)
    }
  }, 120_000)

  it('retrieve reproduces the demo figures; caption, finetune and classify work on its checkpoint (CLI, relative paths)', () => {
    // Every path relative to the demo's directory, the command run from there.
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, [cli, ...args, '--json'], { encoding: 'utf8', timeout: 300_000, cwd: out })
      expect(r.status, r.stderr).toBe(0)
      return JSON.parse(r.stdout)
    }
    const ckpt = 'run/checkpoints/step-800'
    const test = 'shards/test'
    // Re-ranking every candidate by likelihood is the demo's likelihood ranking, figure for figure.
    const lik = run('retrieve', '--checkpoint', ckpt, '--shards', test, '--rerank', 'likelihood', '--rerank-top', '96')
    expect(lik.recall).toEqual(demoResult!.retrieval.likelihood!.recall)
    expect(lik.medianRank).toBe(demoResult!.retrieval.likelihood!.medianRank)
    // The default ranking (words, likelihood on the top 10) and the words scorer alone, as the demo scored them.
    const ranked = run('retrieve', '--checkpoint', ckpt, '--shards', test)
    expect(ranked).toMatchObject({ scorer: 'words', rerank: 'likelihood', rerankTop: 10 })
    expect(ranked.recall).toEqual(demoResult!.retrieval.wordsThenLikelihood!.recall)
    const words = run('retrieve', '--checkpoint', ckpt, '--shards', test, '--rerank', 'none')
    expect(words).toMatchObject({ rerank: null, rerankTop: null })
    expect(words.recall).toEqual(demoResult!.retrieval.words!.recall)
    const v2t = run('retrieve', '--checkpoint', ckpt, '--shards', test, '--direction', 'video-to-text')
    expect(v2t.recall['1']).toBeGreaterThanOrEqual(5 / 96)
    const q = run('retrieve', '--checkpoint', ckpt, '--shards', test, '--query', 'a red circle moves left', '--top', '3')
    expect(q.results[0].results).toHaveLength(3)

    const caps = run('caption', '--checkpoint', ckpt, 'data/videos/test-red-circle-left-0.mp4')
    expect(caps.captions).toHaveLength(1)
    expect(caps.captions[0].caption.split(' ').length).toBeGreaterThanOrEqual(3)

    // All 96 training labels of the quick set: shape is learned well (measured 0.94 on the test clips).
    const ft = run('finetune', '--task', 'classify', '--checkpoint', ckpt, '--shards', 'shards/train', '--label', 'shape', '--out', 'ft-shape', '--steps', '100')
    expect(ft.classes).toEqual(['circle', 'diamond', 'square', 'triangle'])
    const report = run('classify', '--checkpoint', ft.checkpoint, '--shards', test, '--label', 'shape')
    expect(report.samples).toBe(96)
    expect(report.accuracy).toBeGreaterThanOrEqual(0.6)
    const one = run('classify', '--checkpoint', ft.checkpoint, 'data/videos/test-red-circle-left-0.mp4')
    expect(one.predictions[0].probabilities).toHaveLength(4)

    // Question answering on the demo's questions (measured with seed 0 on the 96 test clips:
    // colour 1.000, shape 0.969, direction 0.729; a uniform guess among the type's answers is
    // 0.167 / 0.25 / 0.25; from scratch the same run gives 1.000 / 0.281 / 0.250).
    const qa = run('finetune', '--task', 'qa', '--checkpoint', ckpt, '--shards', 'shards/train', '--out', 'ft-qa', '--validation-fraction', '0')
    expect(qa.answers).toHaveLength(14)
    const qaReport = run('answer', '--checkpoint', qa.checkpoint, '--shards', test)
    expect(qaReport.questions).toBe(3 * 96)
    expect(qaReport.perType.colour.accuracy).toBeGreaterThanOrEqual(0.9)
    expect(qaReport.perType.shape.accuracy).toBeGreaterThanOrEqual(0.8)
    expect(qaReport.perType.direction.accuracy).toBeGreaterThanOrEqual(0.5)
    const answer = run('answer', '--checkpoint', qa.checkpoint, '--video', 'data/videos/test-red-circle-left-0.mp4', '--question', 'what colour')
    expect(answer.answer).toBe('red')
  }, 600_000)

  it('fill-mask bad input: no [MASK], unknown candidate, an empty video, another architecture → coded errors', async () => {
    const p = await loadPretrained(ckpt)
    const video = await new VideoTokenizer(p.videoTokenizer!).tokenizeFile(join(out, 'data', 'videos', 'test-red-circle-left-0.mp4'))
    await expectCode(() => fillMask(p, video, 'a red circle moves left'), 'InvalidInput', /no \[MASK\]/)
    await expectCode(() => fillMask(p, video, 'a [MASK] circle', { candidates: ['magenta'] }), 'InvalidInput', /magenta/)
    const empty = await new VideoTokenizer(p.videoTokenizer!).tokenizeFile(join(fixtures, 'single-frame.mp4'))
    expect(empty.numSegments).toBe(0)
    await expectCode(() => fillMask(p, empty, 'a [MASK] circle'), 'InvalidInput', /no segments/)
    const other = tempDir('other-arch')
    cpSync(ckpt, other, { recursive: true })
    const cfg = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'))
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfg, hidden_size: 128, intermediate_size: 512 }))
    await expectCode(() => loadPretrained(other), 'Checkpoint')
    const bad = spawnSync(process.execPath, [cli, 'fill-mask', '--checkpoint', ckpt, '--video', join(fixtures, 'single-frame.mp4'), '--prompt', 'a [MASK]'], { encoding: 'utf8' })
    expect(bad.status).toBe(1)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('--help documents the options; a bad flag is one line and exit 1', () => {
    const help = spawnSync(process.execPath, [cli, 'demo', '--help'], { encoding: 'utf8' })
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/--quick/)
    const bad = spawnSync(process.execPath, [cli, 'demo', '--steps', 'many'], { encoding: 'utf8' })
    expect(bad.status).toBe(1)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toMatch(/--steps/)
    expect(help.stdout).toMatch(/--video-input features\|visual_words/)
    const badInput = spawnSync(process.execPath, [cli, 'demo', '--video-input', 'pixels'], { encoding: 'utf8' })
    expect(badInput.status).toBe(1)
    expect(badInput.stderr).toMatch(/--video-input/)
    expect(help.stdout).toMatch(/--seeds LIST/)
    for (const [args, why] of [[['--seeds', '0,x'], /distinct non-negative integers/], [['--seeds', '1,1'], /distinct/], [['--seeds', '0,1', '--seed', '2'], /not both/]] as const) {
      const r = spawnSync(process.execPath, [cli, 'demo', ...args], { encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(1)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(why)
    }
  })
})

describe('demo figures over seeds', () => {
  it('mean and sample standard deviation per figure; runs whose figures differ are refused', () => {
    expect(meanSd([0.854, 0.781, 0.781])).toEqual({ mean: expect.closeTo(0.80533, 4), sd: expect.closeTo(0.04215, 4) })
    expect(meanSd([0.5])).toEqual({ mean: 0.5, sd: 0 })
    const run = (r1: number, blank: number) => [
      { name: 'retrieval R@1 (likelihood)', value: r1, chance: 1 / 96 },
      { name: 'fill-in-the-blank shape', value: blank, chance: 0.25 },
    ]
    const agg = aggregateFigures([run(0.9, 0.5), run(0.7, 0.7), run(0.8, 0.9)])
    expect(agg.map((f) => f.name)).toEqual(['retrieval R@1 (likelihood)', 'fill-in-the-blank shape'])
    expect(agg[0]).toMatchObject({ mean: expect.closeTo(0.8, 9), sd: expect.closeTo(0.1, 9), values: [0.9, 0.7, 0.8], chance: 1 / 96 })
    expect(agg[1]).toMatchObject({ mean: expect.closeTo(0.7, 9), sd: expect.closeTo(0.2, 9) })
    expect(() => aggregateFigures([run(0.9, 0.5), run(0.9, 0.5).reverse()])).toThrow(/figure 0/)
  })
})

describe('videobert demo --video-input visual_words (a short run)', () => {
  it('fits a codebook on the training segments, pre-trains on the words and carries the codebook in the checkpoint', async () => {
    const cwd = tempDir('demo-vw')
    const r = spawnSync(process.execPath, [cli, 'demo', '--quick', '--video-input', 'visual_words', '--steps', '150', '--json'], { encoding: 'utf8', timeout: 600_000, cwd })
    expect(r.status, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res.videoInput).toBe('visual_words')
    expect(res.codebook).toEqual({ words: 144, fittedOn: 96 * 4 })
    expect(res.config).toMatchObject({ videoInput: 'visual_words', videoLoss: 'ce', numVisualWords: 144, numRegions: 0 })
    expect(r.stderr).toMatch(/144-word codebook fitted on 384 training segments/)
    const ckpt = join(cwd, 'videobert-demo', 'run', 'checkpoints', 'step-150')
    expect(existsSync(join(ckpt, 'codebook.safetensors'))).toBe(true)
    // A held-out clip given as a file gets its words from the checkpoint's codebook.
    const p = await loadPretrained(ckpt)
    const tokens = await p.tokens(join(cwd, 'videobert-demo', 'data', 'videos', 'test-red-circle-left-0.mp4'))
    expect(tokens.visualWords).toHaveLength(4)
    expect(Math.max(...tokens.visualWords!)).toBeLessThan(144)
  }, 600_000)
})
