import { describe, expect, it } from 'vitest'

import { randomBatch, VideoBERT } from '../src/index.js'
import { expectCode } from './helpers.js'

describe('inference heads after pre-training on structured synthetic data', () => {
  it('masked words come back from the right topic; match scores are probabilities', async () => {
    const model = await VideoBERT.create('tiny', { seed: 4 })
    // 400 steps at 1e-3 (measured: the topic comes back for 64 of 64). The earlier recipe, 200 steps at
    // 3e-3, learned it only while the video loss was summed over F: that loss then took most of the
    // clipped gradient norm and so damped every step; with the per-feature loss 3e-3 without warm-up
    // overshoots (0.19 at 200 steps, 0.06 at 400).
    for (let step = 1; step <= 400; step++) {
      await model.trainStep(randomBatch(model.config, { batchSize: 16, seed: step }), { lr: 1e-3 })
    }
    // Held-out samples (unseen seed); randomBatch's topic t owns word ids [5 + 24t, 5 + 24t + 24).
    const heldOut = randomBatch(model.config, { batchSize: 64, seed: 10_001, negatives: 0.5 })
    const scores = await model.scoreMatch(heldOut)
    expect(scores).toHaveLength(64)
    expect(scores.every((p) => p >= 0 && p <= 1)).toBe(true)
    // (Not asserted: after these steps the VTM head does not yet separate matched from mismatched pairs
    // — the mean score gap is ~0.003. Known gap, see the issue-4 notes.)

    // Mask the first word of each matched caption and ask for it back.
    const L = model.config.maxTextLen
    const probe = randomBatch(model.config, { batchSize: 64, seed: 10_002, negatives: 0 })
    const truthTopic: number[] = []
    for (let i = 0; i < probe.batchSize; i++) {
      truthTopic.push(Math.floor((probe.textIds[i * L]! - 5) / 24))
      probe.textIds[i * L] = model.config.maskTokenId
    }
    const preds = await model.predictMasked(probe, { topK: 3 })
    expect(preds).toHaveLength(64)
    expect(preds.every((p) => p.position === 0 && p.ids.length === 3 && p.probs[0]! >= p.probs[1]!)).toBe(true)
    const right = preds.filter((p) => Math.floor((p.ids[0]! - 5) / 24) === truthTopic[p.sample]).length / preds.length
    // Chance is 1/8 (8 topics); the caption's other words and the video both tell the topic.
    expect(right).toBeGreaterThan(0.5)
    await expectCode(() => model.predictMasked(probe, { topK: 0 }), 'InvalidInput', /topK/)

    // maskLogProbs: the same distribution, only the asked ids come back (here the masked word and
    // the top prediction at each of 8 masks, two per mask).
    const small = randomBatch(model.config, { batchSize: 8, seed: 10_003, negatives: 0 })
    const firstWords = Array.from({ length: 8 }, (_, i) => small.textIds[i * L]!)
    for (let i = 0; i < 8; i++) small.textIds[i * L] = model.config.maskTokenId
    const all = await model.predictMasked(small, { topK: model.config.vocabSize })
    const asked = all.flatMap((p) => [firstWords[p.sample]!, p.ids[0]!])
    const logProbs = await model.maskLogProbs(small, asked, 2)
    expect(logProbs).toHaveLength(16)
    all.forEach((p, m) => {
      for (let j = 0; j < 2; j++) {
        const prob = p.probs[p.ids.indexOf(asked[2 * m + j]!)]!
        expect(Math.abs(logProbs[2 * m + j]! - Math.log(prob))).toBeLessThan(1e-4)
      }
    })
    await expectCode(() => model.maskLogProbs(small, asked.slice(1), 2), 'InvalidInput', /ids/)
    await expectCode(() => model.maskLogProbs(small, asked, 0), 'InvalidInput', /perMask/)
    await expectCode(() => model.maskLogProbs(small, asked.map(() => model.config.vocabSize), 2), 'InvalidInput', /vocabulary/)
  })
})
