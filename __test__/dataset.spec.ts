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
    const ds = new VideoTextDataset(shards, cfg, tokenizer, { validationFraction: 0.2, seed: 3, windows: 'tiles' })
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

  it('caption windows: one per caption, its own segments and text (the default for videos with two or more captions); negatives from other times of the video', () => {
    const cfg = config()
    const ds = new VideoTextDataset(shards, cfg, tokenizer, { validationFraction: 0, seed: 3, negatives: 1 })
    expect(ds.captionWindowed.size).toBe(shards.length)
    const h264 = ds.windows.train.filter((w) => w.video === 0)
    // [0, 0.8] s → segments 0–1; [1.7, 3] s → segments 4–7 (0.4 s segments)
    expect(h264.map((w) => [w.first, w.count, w.text])).toEqual([[0, 2, 'a red circle'], [4, 4, 'moves left']])
    // every pair is a negative (negatives: 1), its text another caption of the set
    const encoded = (t: string) => [...tokenizer.encode(t, cfg.maxTextLen)].join(',')
    const batch = [...ds.batches('train', ds.windows.train.length, 0)][0]!
    const L = cfg.maxTextLen
    expect([...batch.vtmLabels!].every((l) => l === 0)).toBe(true)
    const order = [...ds.windows.train].map((w) => encoded(w.text))
    for (let b = 0; b < batch.batchSize; b++) expect(order).toContain([...batch.textIds.subarray(b * L, (b + 1) * L)].filter((id) => id !== cfg.padTokenId).join(','))
    // tiles when asked; a bad value is a coded error
    expect(new VideoTextDataset(shards, cfg, tokenizer, { windows: 'tiles' }).captionWindowed.size).toBe(0)
    expect(() => new VideoTextDataset(shards, cfg, tokenizer, { windows: 'sentences' as never })).toThrow(/`windows`: 'auto', 'tiles' or 'captions'/)
  })

  it('refuses shards made with another feature size or region count', () => {
    expect(() => new VideoTextDataset(shards, resolveConfig({ preset: 'tiny', featureDim: 32 }), tokenizer)).toThrow(VideoBertError)
    expect(() => new VideoTextDataset(shards, resolveConfig({ preset: 'tiny', featureDim: 32 }), tokenizer)).toThrow(/feature size 44.*featureDim 32/)
    expect(() => new VideoTextDataset(shards, resolveConfig({ preset: 'tiny', featureDim: 44, numRegions: 9 }), tokenizer)).toThrow(/4 regions.*numRegions 9/)
  })
})
