import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

import {
  applyFeatureNorm,
  chanceRecall,
  FEATURE_NORM_FILE,
  fillInTheBlank,
  loadFeatureNorm,
  resolveConfig,
  saveFeatureNorm,
  textToVideoRetrieval,
  Trainer,
  VideoBERT,
  VideoBertError,
  VideoTextDataset,
  type TokenShards,
  type TextTokenizer,
} from '../src/index.js'
import { bestRelevantRank } from '../src/eval/retrieval.js'
import { buildCorpus } from './corpus.js'
import { expectCode, tempDir } from './helpers.js'

let shards: TokenShards
let tokenizer: TextTokenizer
const config = resolveConfig({ preset: 'tiny', featureDim: 44, numRegions: 4, maxSegments: 4, maxTextLen: 12, vocabSize: 100 })

beforeAll(async () => {
  ;({ shards, tokenizer } = await buildCorpus(tempDir('eval-corpus')))
})

describe('retrieval arithmetic', () => {
  it('chance recall is the exact expectation of a random ranking', () => {
    expect(chanceRecall(96, 1, 1)).toBeCloseTo(1 / 96, 12)
    expect(chanceRecall(96, 1, 5)).toBeCloseTo(5 / 96, 12)
    expect(chanceRecall(10, 2, 1)).toBeCloseTo(0.2, 12)
    expect(chanceRecall(10, 2, 2)).toBeCloseTo(1 - (8 / 10) * (7 / 9), 12) // 1 − C(8,2)/C(10,2)
    expect(chanceRecall(4, 4, 1)).toBe(1)
    expect(chanceRecall(5, 1, 10)).toBe(1)
  })

  it('the rank of the best relevant item counts ties against it', () => {
    expect(bestRelevantRank([0.1, 0.9, 0.5], (i) => i === 1)).toBe(1)
    expect(bestRelevantRank([0.1, 0.9, 0.5], (i) => i === 2)).toBe(2)
    expect(bestRelevantRank([0.1, 0.9, 0.5], (i) => i === 0 || i === 2)).toBe(2)
    expect(bestRelevantRank([0.5, 0.5, 0.5], (i) => i === 0)).toBe(3)
  })
})

describe('feature standardisation', () => {
  it('is fitted on the training videos only and gives them zero mean and unit variance', () => {
    const data = new VideoTextDataset(shards, config, tokenizer, { validationFraction: 0.2, seed: 1 })
    const norm = data.featureNorm!
    expect(norm.mean).toHaveLength(44)
    const F = 44
    const sums = new Float64Array(F)
    const sq = new Float64Array(F)
    let n = 0
    for (const v of data.videos.train) {
      const x = shards.regions(v).slice()
      applyFeatureNorm(x, norm)
      for (let i = 0; i < x.length; i += F) {
        for (let f = 0; f < F; f++) {
          sums[f] = sums[f]! + x[i + f]!
          sq[f] = sq[f]! + x[i + f]! ** 2
        }
        n++
      }
    }
    let varying = 0
    for (let f = 0; f < F; f++) {
      expect(Math.abs(sums[f]! / n)).toBeLessThan(1e-4)
      if (norm.std[f] !== 1) {
        expect(sq[f]! / n).toBeCloseTo(1, 3)
        varying++
      }
    }
    expect(varying).toBeGreaterThan(20)
    // Batches carry standardised features; padding stays 0.
    const batch = data.collate([{ w: data.windows.train[0]!, text: 'a red circle', label: 1 }])!
    const raw = shards.regions(data.windows.train[0]!.video).subarray(0, F)
    expect(batch.videoFeatures![3]).toBeCloseTo((raw[3]! - norm.mean[3]!) / norm.std[3]!, 5)
  })

  it('round-trips through feature_norm.json, travels with checkpoints, and is refused when it does not fit', async () => {
    const dir = tempDir('feature-norm')
    const data = new VideoTextDataset(shards, config, tokenizer, { validationFraction: 0.2, seed: 1 })
    saveFeatureNorm(join(dir, 'n.json'), data.featureNorm!)
    expect(loadFeatureNorm(join(dir, 'n.json'))).toEqual(data.featureNorm)
    const model = await VideoBERT.create(config, { seed: 1 })
    const r = await new Trainer({ out: join(dir, 'run'), steps: 2, batchSize: 4, schedule: { lr: 1e-3, warmupSteps: 0, decay: 'constant' }, progress: false }).fit(model, data)
    const ckpt = join(dir, 'run', 'checkpoints', `step-${r.state.step}`, FEATURE_NORM_FILE)
    expect(existsSync(ckpt)).toBe(true)
    expect(loadFeatureNorm(ckpt)).toEqual(data.featureNorm)
    const test = new VideoTextDataset(shards, config, tokenizer, { validationFraction: 1, featureNorm: loadFeatureNorm(ckpt) })
    expect(test.windows.validation.length).toBe(data.windows.train.length + data.windows.validation.length)
    await expectCode(() => new VideoTextDataset(shards, config, tokenizer, { validationFraction: 1 }), 'InvalidConfig', /featureNorm/)
    const short = { mean: new Float32Array(3), std: new Float32Array(3).fill(1) }
    await expectCode(() => new VideoTextDataset(shards, config, tokenizer, { featureNorm: short }), 'InvalidConfig', /featureDim 44/)
    expect(readFileSync(join(dir, 'n.json'), 'utf8')).toMatch(/"mean":\[/)
  })
})

describe('evaluation on an untrained model', () => {
  it('retrieval and fill-in-the-blank count queries and blanks and report chance', async () => {
    const data = new VideoTextDataset(shards, config, tokenizer, { validationFraction: 0.5, seed: 2 })
    const model = await VideoBERT.create(config, { seed: 3 })
    for (const scorer of ['match', 'likelihood'] as const) {
      const r = await textToVideoRetrieval(model, data, 'validation', { scorer })
      const texts = new Set(data.windows.validation.map((w) => w.text))
      expect(r.queries).toBe(texts.size)
      expect(r.candidates).toBe(data.windows.validation.length)
      expect(r.recall[1]).toBeLessThanOrEqual(r.recall[5])
      expect(r.recall[10]).toBe(1) // fewer than 10 candidates
      expect(r.medianRank).toBeGreaterThanOrEqual(1)
    }
    const blanks = await fillInTheBlank(model, data, 'validation', { colour: ['red', 'green', 'blue'] })
    const withColour = data.windows.validation.filter((w) => /\b(red|green|blue)\b/.test(w.text)).length
    expect(blanks.colour!.count).toBe(withColour)
    expect(blanks.colour!.chance).toBeCloseTo(1 / 3, 12)
    await expectCode(() => fillInTheBlank(model, data, 'validation', { colour: ['magenta'] }), 'InvalidInput', /magenta/)
  })
})

describe('bad items', () => {
  /** The same shards, except that one video's features cannot be read. */
  function withUnreadable(bad: number): TokenShards {
    return new Proxy(shards, {
      get(target, key) {
        if (key === 'regions' || key === 'pooled') {
          return (v: number) => {
            if (v === bad) throw new VideoBertError('Io', `video ${v}: unreadable`)
            return target[key](v)
          }
        }
        const value = Reflect.get(target, key, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }

  it("are skipped and counted by the 'skip' policy (the Trainer reports them) and rethrown by 'throw'", async () => {
    const probe = new VideoTextDataset(shards, config, tokenizer, { validationFraction: 0.2, seed: 1 })
    const bad = probe.videos.train[0]!
    const data = new VideoTextDataset(withUnreadable(bad), config, tokenizer, { validationFraction: 0.2, seed: 1 })
    expect(data.skipped).toEqual([{ video: bad, reason: expect.stringMatching(/unreadable/) }])
    const model = await VideoBERT.create(config, { seed: 1 })
    const r = await new Trainer({ out: tempDir('skip-run'), steps: 8, batchSize: 4, schedule: { lr: 1e-3, warmupSteps: 0, decay: 'constant' }, progress: false }).fit(model, data)
    expect(r.skipped.length).toBeGreaterThan(1) // once while fitting the normalisation, then each time a batch meets it
    expect(r.skipped.every((s) => s.video === bad)).toBe(true)
    await expectCode(() => new VideoTextDataset(withUnreadable(bad), config, tokenizer, { validationFraction: 0.2, seed: 1, badItems: 'throw' }), 'Io', /unreadable/)
  })
})
