import { describe, expect, it } from 'vitest'

import { randomBatch, VideoBERT } from '../src/index.js'

describe('the event loop keeps running while native code trains', () => {
  it('a setInterval timer keeps firing (max lag < 100 ms) during a small-preset trainStep', async () => {
    const model = await VideoBERT.create('small', { seed: 1 })
    const batch = randomBatch(model.config, { batchSize: 8, seed: 1 })
    const period = 10
    let last = performance.now()
    let maxLag = 0
    let ticks = 0
    const timer = setInterval(() => {
      const now = performance.now()
      maxLag = Math.max(maxLag, now - last - period)
      last = now
      ticks++
    }, period)
    const t0 = performance.now()
    const m = await model.trainStep(batch, { lr: 1e-4 })
    const elapsed = performance.now() - t0
    clearInterval(timer)
    expect(Number.isFinite(m.loss)).toBe(true)
    // Only meaningful if the step took long enough for many ticks.
    expect(elapsed).toBeGreaterThan(300)
    expect(ticks).toBeGreaterThan(elapsed / period / 3)
    expect(maxLag).toBeLessThan(100)
  })
})
