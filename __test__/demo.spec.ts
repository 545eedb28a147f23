import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { ffmpegArgs, planClips } from '../src/demo/synthetic.js'
import { tempDir } from './helpers.js'

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
    expect(ffmpegArgs(test[0]!, 'x.mp4').join(' ')).toContain('overlay=')
  })
})

describe('videobert demo --quick', () => {
  it('learns: held-out retrieval and fill-in-the-blank well above chance', () => {
    const out = tempDir('demo')
    const r = spawnSync(process.execPath, [cli, 'demo', '--quick', '--json', '--out', out], { encoding: 'utf8', timeout: 600_000 })
    expect(r.status, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res.clips).toEqual({ train: 96, test: 96 })
    const ret = res.retrieval.likelihood
    expect(ret.queries).toBe(96)
    expect(ret.chance[1]).toBeCloseTo(1 / 96, 9)
    // Measured: R@1 0.115 (11× chance), R@5 0.34, colour 0.60 after the 500 quick steps.
    expect(ret.recall[1]).toBeGreaterThanOrEqual(5 * ret.chance[1])
    expect(ret.recall[5]).toBeGreaterThanOrEqual(3 * ret.chance[5])
    expect(res.fillInTheBlank.colour.accuracy).toBeGreaterThanOrEqual(2.5 * res.fillInTheBlank.colour.chance)
    expect(res.fillInTheBlank.shape.count).toBe(96)
    expect(res.train.steps).toBe(500)
    expect(res.goals).toHaveLength(4)
    const ckpt = join(out, 'run', 'checkpoints', 'step-500')
    expect(readdirSync(ckpt).sort()).toEqual(expect.arrayContaining(['config.json', 'feature_norm.json', 'model.safetensors', 'tokenizer.json']))
    expect(existsSync(join(out, 'run', 'loss-curve.html'))).toBe(true)
  }, 600_000)

  it('--help documents the options; a bad flag is one line and exit 1', () => {
    const help = spawnSync(process.execPath, [cli, 'demo', '--help'], { encoding: 'utf8' })
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/--quick/)
    const bad = spawnSync(process.execPath, [cli, 'demo', '--steps', 'many'], { encoding: 'utf8' })
    expect(bad.status).toBe(1)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toMatch(/--steps/)
  })
})
