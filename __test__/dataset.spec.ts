import { beforeAll, describe, expect, it } from 'vitest'

import { checkBatch, resolveConfig, VideoBERT, VideoTextDataset, VideoBertError, type TextTokenizer, type TokenShards } from '../src/index.js'
import { buildCorpus } from './corpus.js'
import { tempDir } from './helpers.js'

let shards: TokenShards
let tokenizer: TextTokenizer

beforeAll(async () => {
  ;({ shards, tokenizer } = await buildCorpus(tempDir('dataset')))
})

describe('VideoTextDataset', () => {
  const config = () => resolveConfig({ preset: 'tiny', featureDim: 44, numRegions: 4, maxSegments: 4, maxTextLen: 12, vocabSize: 100 })

  it('splits by video, windows T segments with their overlapping captions, and batches to the native layout', async () => {
    const cfg = config()
    const ds = new VideoTextDataset(shards, cfg, tokenizer, { validationFraction: 0.2, seed: 3 })
    expect(ds.videos.validation).toHaveLength(2)
    expect(ds.videos.train).toHaveLength(8)
    expect(ds.videos.train.filter((v) => ds.videos.validation.includes(v))).toEqual([])
    expect(new Set(ds.windows.validation.map((w) => w.video))).toEqual(new Set(ds.videos.validation))
    // h264.mp4 is 4 s → 40 frames → 10 segments of 0.4 s → windows of 4: [0,4), [4,8), [8,10).
    const h264 = ds.windows.train.concat(ds.windows.validation).filter((w) => w.video === 0)
    expect(h264.map((w) => [w.first, w.count])).toEqual([[0, 4], [4, 4], [8, 2]])
    expect(h264[0]!.text).toBe('a red circle') // [0, 0.8] s overlaps segments 0–1
    expect(h264[1]!.text).toBe('moves left') // [1.7, 3] s overlaps segments 4–7
    expect(h264[2]!.text).toBe('')

    const batches = [...ds.batches('train', 4, 0)]
    expect(batches.reduce((n, b) => n + b.batchSize, 0)).toBe(ds.windows.train.length)
    for (const b of batches) checkBatch(b, cfg)
    const labels = batches.flatMap((b) => [...b.vtmLabels!])
    expect(labels.filter((l) => l === 0).length).toBeGreaterThan(0)
    expect(labels.filter((l) => l === 1).length).toBeGreaterThan(0)
    // Seeded: the same epoch twice is identical; another epoch is another order.
    expect([...ds.batches('train', 4, 0)]).toEqual(batches)
    expect([...ds.batches('train', 4, 1)]).not.toEqual(batches)

    const model = await VideoBERT.create(cfg, { seed: 1 })
    const m = await model.trainStep(batches[0]!, { lr: 1e-3 })
    expect(Number.isFinite(m.loss)).toBe(true)
  })

  it('refuses shards made with another feature size or region count', () => {
    expect(() => new VideoTextDataset(shards, resolveConfig({ preset: 'tiny', featureDim: 32 }), tokenizer)).toThrow(VideoBertError)
    expect(() => new VideoTextDataset(shards, resolveConfig({ preset: 'tiny', featureDim: 32 }), tokenizer)).toThrow(/feature size 44.*featureDim 32/)
    expect(() => new VideoTextDataset(shards, resolveConfig({ preset: 'tiny', featureDim: 44, numRegions: 9 }), tokenizer)).toThrow(/4 regions.*numRegions 9/)
  })
})
