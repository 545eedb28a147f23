/**
 * dispose(): native memory freed deterministically — the model's weights, optimizer state and
 * thread pool, a shard set's mapped files, a codebook, a text tokenizer — and every use after it a
 * `Disposed` error.
 */
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { fitCodebookOnShards, Codebook, Pretrained, presets, randomBatch, VideoBERT, type Embeddings, type StepResult } from '../src/index.js'
import { buildCorpus } from './corpus.js'
import { expectCode, tempDir } from './helpers.js'

/** Resident set size in MiB (Linux). */
function rssMiB(): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]!
  return Number(kb) / 1024
}

describe('dispose()', () => {
  it('VideoBERT: a call in flight finishes, later calls are Disposed errors, dispose twice is fine, Symbol.asyncDispose calls it', async () => {
    const model = await VideoBERT.create('tiny', { seed: 1 })
    const batch = randomBatch(presets.tiny, { batchSize: 2 })
    // Calls made before dispose() all finish (they queue on the model's lock; dispose waits for them).
    const inFlight = model.trainStep(batch, { lr: 1e-3 })
    const others = [model.evaluate(batch), model.embed(batch), model.trainStep(batch, { lr: 1e-3 })]
    const disposing = model.dispose()
    expect(model.disposed).toBe(true)
    expect(Number.isFinite((await inFlight).loss)).toBe(true)
    const [evaluated, embedded, second] = (await Promise.all(others)) as [StepResult, Embeddings, StepResult]
    expect(Number.isFinite(evaluated.loss) && embedded.cls.length === 2 * presets.tiny.hiddenSize && Number.isFinite(second.loss)).toBe(true)
    await disposing
    await expectCode(() => model.trainStep(batch, { lr: 1e-3 }), 'Disposed', /model was disposed/)
    await expectCode(() => model.embed(batch), 'Disposed')
    await expectCode(() => model.save(tempDir('disposed')), 'Disposed')
    await model.dispose()
    expect(model.step).toBe(2)

    const other = await VideoBERT.create('tiny', { seed: 2 })
    await (other as unknown as Record<symbol, () => Promise<void>>)[Symbol.asyncDispose]!()
    expect(other.disposed).toBe(true)
  })

  it('a small model\'s memory returns to the system when disposed', async () => {
    const warm = await VideoBERT.create('small', { seed: 1 })
    await warm.dispose()
    const before = rssMiB()
    const models = [await VideoBERT.create('small', { seed: 2 }), await VideoBERT.create('small', { seed: 3 })]
    const held = rssMiB() - before
    // Weights + AdamW moments of two small models (f32): well over 40 MiB.
    expect(held).toBeGreaterThan(40)
    for (const m of models) await m.dispose()
    const after = rssMiB() - before
    expect(after, `held ${held.toFixed(1)} MiB, ${after.toFixed(1)} MiB left after dispose`).toBeLessThan(held * 0.25)
  })

  it('TokenShards, Codebook, TextTokenizer and Pretrained: Disposed after dispose(); Symbol.dispose calls it', async () => {
    const dir = tempDir('dispose-corpus')
    const { shards, tokenizer } = await buildCorpus(dir)
    await fitCodebookOnShards(join(dir, 'shards'), join(dir, 'codebook.safetensors'), { branching: 2, depth: 1, seed: 1 })
    const codebook = await Codebook.load(join(dir, 'codebook.safetensors'))

    expect(shards.length).toBe(10)
    ;(shards as unknown as Record<symbol, () => void>)[Symbol.dispose]!()
    expect(shards.disposed).toBe(true)
    expect(() => shards.length).toThrow(/token shard set was disposed/)
    await expectCode(() => shards.regions(0), 'Disposed')

    expect(codebook.numWords).toBe(2)
    codebook.dispose()
    await expectCode(() => codebook.assign(new Float32Array(44)), 'Disposed', /codebook was disposed/)

    const ids = tokenizer.encode('a red circle')
    tokenizer.dispose()
    tokenizer.dispose()
    await expectCode(() => tokenizer.encode('a red circle'), 'Disposed', /text tokenizer was disposed/)
    expect(ids.length).toBe(3)

    const ckpt = join(dir, 'ckpt')
    const model = await VideoBERT.create({ preset: 'tiny', featureDim: 44 }, { seed: 1 })
    await model.save(ckpt)
    copyFileSync(join(dir, 'tokenizer.json'), join(ckpt, 'tokenizer.json'))
    const p = await Pretrained.load(ckpt)
    expect((await p.embedTexts(['a red circle'])).length).toBe(1)
    await p.dispose()
    expect(p.disposed).toBe(true)
    await expectCode(() => p.embedTexts(['a red circle']), 'Disposed')
  })
})
