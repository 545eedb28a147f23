import { describe, expect, it } from 'vitest'

import { presets, randomBatch, resolveConfig, VideoBERT, type StepResult } from '../src/index.js'
import { tempDir } from './helpers.js'

const lr = 1e-3
const batches = Array.from({ length: 4 }, (_, i) => randomBatch(presets.tiny, { batchSize: 4, seed: i }))

async function train(model: VideoBERT, from: number, to: number): Promise<StepResult[]> {
  const out: StepResult[] = []
  for (let i = from; i < to; i++) out.push(await model.trainStep(batches[i % batches.length]!, { lr }))
  return out
}

describe('VideoBERT', () => {
  it('lossGradNorms: the gradient norm of each weighted loss, linear in its weight, and no update', async () => {
    const base = await VideoBERT.create({ preset: 'tiny' }, { seed: 4 })
    const g = await base.lossGradNorms(batches[0]!)
    for (const k of ['mlm', 'video', 'vtm'] as const) expect(g[k]).toBeGreaterThan(0)
    const weighted = await VideoBERT.create({ preset: 'tiny', videoWeight: 3, vtmWeight: 0 }, { seed: 4 })
    const w = await weighted.lossGradNorms(batches[0]!)
    expect(w.video / g.video).toBeCloseTo(3, 4)
    expect(w.vtm).toBe(0)
    expect(w.mlm).toBeCloseTo(g.mlm, 6)
    // Reading the norms changes nothing: the same step loss before and after.
    const before = await base.evaluate([batches[1]!], { maskSeed: 1 })
    await base.lossGradNorms(batches[0]!)
    expect(await base.evaluate([batches[1]!], { maskSeed: 1 })).toEqual(before)
    expect(base.step).toBe(0)
  })

  it('creates presets with the documented sizes and counts parameters', async () => {
    const model = await VideoBERT.create('tiny')
    expect(model.config).toEqual(presets.tiny)
    expect(presets.tiny).toMatchObject({ hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 2 })
    expect(presets.small).toMatchObject({ hiddenSize: 256, numHiddenLayers: 4, numAttentionHeads: 4, intermediateSize: 1024, maxTextLen: 32, maxSegments: 16, numRegions: 4, featureDim: 512 })
    expect(presets.base).toMatchObject({ hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12, intermediateSize: 3072 })
    expect(presets.large).toMatchObject({ hiddenSize: 1024, numHiddenLayers: 24 })
    // Count by hand for the tiny preset: H=64, V=512, L=16, T=8, R=4, F=32, FFN=256, 2 layers.
    const [H, V, L, T, R, F, I] = [64, 512, 16, 8, 4, 32, 256]
    const linear = (i: number, o: number) => i * o + o
    const norm = 2 * H
    const attention = 4 * linear(H, H)
    const embeddings = V * H + (L + 2) * H + (T + 1) * H + (R + 1) * H + 2 * H + H + 2 * linear(F, H) + norm
    const layer = norm + attention + norm + attention + norm + linear(H, I) + linear(I, H)
    const heads = linear(H, H) + norm + V + linear(H, H) + norm + linear(H, F) + linear(H, H) + linear(H, 2)
    expect(model.numParameters).toBe(embeddings + 2 * layer + norm + heads)
    expect(model.step).toBe(0)
  })

  it('merges overrides onto a preset', () => {
    const cfg = resolveConfig({ preset: 'tiny', numRegions: 0, videoLoss: 'nce' })
    expect(cfg).toEqual({ ...presets.tiny, numRegions: 0, videoLoss: 'nce' })
  })

  it('trains: a step returns finite losses whose sum is the total, and the step counter moves', async () => {
    const model = await VideoBERT.create('tiny', { seed: 3 })
    const m = await model.trainStep(batches[0]!, { lr })
    for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true)
    expect(m.loss).toBeCloseTo(m.mlmLoss + m.videoLoss + m.vtmLoss, 5)
    expect(m.mlmLoss).toBeGreaterThan(Math.log(presets.tiny.vocabSize) - 1)
    expect(m.gradNorm).toBeGreaterThan(0)
    expect(model.step).toBe(1)
    // Gradient accumulation: two micro-batches, one update.
    await model.trainStep([batches[1]!, batches[2]!], { lr })
    expect(model.step).toBe(2)
  })

  it('learns: held-out loss falls on structured synthetic data', async () => {
    const model = await VideoBERT.create('tiny', { seed: 1 })
    const heldOut = randomBatch(model.config, { batchSize: 32, seed: 999 })
    const before = await model.evaluate(heldOut)
    for (let step = 1; step <= 60; step++) {
      await model.trainStep(randomBatch(model.config, { batchSize: 16, seed: step }), { lr: 2e-3 })
    }
    const after = await model.evaluate(heldOut)
    expect(after.mlmLoss).toBeLessThan(before.mlmLoss - 0.5)
    expect(after.videoLoss).toBeLessThan(0.5 * before.videoLoss)
  })

  it('is deterministic: same seed, bitwise-identical losses over 20 steps', async () => {
    const a = await train(await VideoBERT.create('tiny', { seed: 7, numThreads: 2 }), 0, 20)
    const b = await train(await VideoBERT.create('tiny', { seed: 7, numThreads: 2 }), 0, 20)
    expect(b).toEqual(a)
    const c = await train(await VideoBERT.create('tiny', { seed: 8, numThreads: 2 }), 0, 20)
    expect(c).not.toEqual(a)
  })

  it('save → load gives identical evaluation, config and step', async () => {
    const model = await VideoBERT.create({ preset: 'tiny', numRegions: 0 }, { seed: 2 })
    const own = [0, 1, 2].map((seed) => randomBatch(model.config, { batchSize: 4, seed }))
    for (const b of own) await model.trainStep(b, { lr })
    const dir = tempDir('save')
    await model.save(dir)
    const loaded = await VideoBERT.load(dir)
    expect(loaded.config).toEqual(model.config)
    expect(loaded.step).toBe(3)
    expect(await loaded.evaluate(own)).toEqual(await model.evaluate(own))
  })

  it('10 steps + save + load + 10 steps == 20 straight steps, bitwise', async () => {
    const straight = await train(await VideoBERT.create('tiny', { seed: 11 }), 0, 20)
    const first = await VideoBERT.create('tiny', { seed: 11 })
    const head = await train(first, 0, 10)
    const dir = tempDir('resume')
    await first.save(dir)
    const tail = await train(await VideoBERT.load(dir), 10, 20)
    expect([...head, ...tail]).toEqual(straight)
  })
})
