/**
 * The full demo with the label-efficiency experiment (~8 min on 2 cores): every goal of docs/demo.md's
 * demo section; and the demo over three seeds (~9 min): the goals on the means, and the default
 * retrieval ranking's R@1 ≥ 0.80 with standard deviation ≤ 0.05. Slow suites: run only with
 * VIDEOBERT_SLOW=1.
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
    // The default ranking (words, likelihood on the top 10) is within 5 points of likelihood on every pair.
    expect(res.retrieval.wordsThenLikelihood.recall[1]).toBeGreaterThanOrEqual(res.retrieval.likelihood.recall[1] - 0.05)
  }, 1_800_000)
})

describe.runIf(process.env.VIDEOBERT_SLOW === '1')('videobert demo --seeds 0,1,2 (slow)', () => {
  it('meets every goal on the means; the default ranking has R@1 ≥ 0.80 with sd ≤ 0.05', () => {
    const r = spawnSync(process.execPath, [cli, 'demo', '--seeds', '0,1,2', '--json', '--out', tempDir('demo-seeds')], { encoding: 'utf8', timeout: 2_400_000 })
    expect(r.status, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    const figure = (name: string) => res.figures.find((f: { name: string }) => f.name === name)
    console.log(JSON.stringify({ figures: res.figures, seconds: res.runs.map((x: { seconds: { total: number } }) => x.seconds.total) }))
    expect(res.seeds).toEqual([0, 1, 2])
    expect(res.runs).toHaveLength(3)
    for (const g of res.goals) expect(g.met, `${g.name}: ${g.value} vs ${g.chance}`).toBe(true)
    const ranking = figure('retrieval R@1 (words → likelihood top 10)')
    expect(ranking.values).toHaveLength(3)
    expect(ranking.mean).toBeGreaterThanOrEqual(0.8)
    expect(ranking.sd).toBeLessThanOrEqual(0.05)
    // The seeds differ: their clips, splits and initialisations are their own.
    expect(new Set(figure('retrieval R@1 (match head)').values).size).toBeGreaterThan(1)
  }, 2_400_000)
})
