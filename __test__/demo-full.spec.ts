/**
 * The full demo with the label-efficiency experiment (~8 min on 2 cores): every goal of docs/demo.md's
 * demo section. A slow suite: runs only with VIDEOBERT_SLOW=1.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { tempDir } from './helpers.js'

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')

describe.runIf(process.env.VIDEOBERT_SLOW === '1')('videobert demo --label-efficiency (slow)', () => {
  it('meets every goal, and pre-training adds ≥ 10 points to the 10 %-label direction classifier', () => {
    const r = spawnSync(process.execPath, [cli, 'demo', '--label-efficiency', '--json', '--out', tempDir('demo-full')], { encoding: 'utf8', timeout: 1_800_000 })
    expect(r.status, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    // The figures, for the record (vitest prints them with the test).
    console.log(JSON.stringify({ goals: res.goals, retrieval: res.retrieval, captions: res.captions.perGroup, labelEfficiency: res.labelEfficiency, seconds: res.seconds }))
    expect(res.train.steps).toBe(4500)
    for (const g of res.goals) expect(g.met, `${g.name}: ${g.value} vs ${g.chance}`).toBe(true)
    expect(res.goals.map((g: { name: string }) => g.name)).toContain('10 % labels, direction: pre-trained − scratch ≥ 10 points')
    expect(res.labelEfficiency.summary.direction.gainPoints).toBeGreaterThanOrEqual(10)
    expect(res.labelEfficiency.rows).toHaveLength(6)
    // The fast first stage is within 5 points of the likelihood ranking.
    expect(res.retrieval.words.recall[1]).toBeGreaterThanOrEqual(res.retrieval.likelihood.recall[1] - 0.05)
  }, 1_800_000)
})
