/**
 * Many calls in flight at once (issue 16): on one model they are serialized (each native call holds
 * the model's lock) and the model ends as if they had run one after another; on separate models they
 * run side by side and each gives what it gives alone; 32 concurrent tokenizations agree with one;
 * a process may exit while work is in flight.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

import { randomBatch, VideoBERT, VideoTokenizer } from '../src/index.js'
import { tempDir } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const video = join(root, '__test__', 'fixtures', 'video', 'h264.mp4')

describe('concurrency', () => {
  it('48 calls in flight on one model (train, evaluate, save, embed): all complete, the state is that of 16 sequential steps', async () => {
    const model = await VideoBERT.create('tiny', { seed: 2, numThreads: 1 })
    const batch = randomBatch(model.config, { batchSize: 4, seed: 9 })
    const dir = tempDir('concurrent-saves')
    const calls: Promise<unknown>[] = []
    for (let i = 0; i < 16; i++) {
      calls.push(model.trainStep(batch, { lr: 1e-3 }))
      calls.push(model.evaluate(batch))
      if (i % 2 === 0) calls.push(model.save(join(dir, `save-${i}`)))
      else calls.push(model.embed(batch))
    }
    const results = await Promise.all(calls)
    expect(results).toHaveLength(48)
    expect(model.step).toBe(16)
    for (const r of results.filter((x): x is { loss: number } => typeof x === 'object' && x !== null && 'loss' in x)) expect(Number.isFinite(r.loss)).toBe(true)
    const sequential = await VideoBERT.create('tiny', { seed: 2, numThreads: 1 })
    for (let i = 0; i < 16; i++) await sequential.trainStep(batch, { lr: 1e-3 })
    expect((await model.evaluate(batch)).loss).toBe((await sequential.evaluate(batch)).loss)
    // Every save wrote a whole checkpoint of some step in between.
    for (let i = 0; i < 16; i += 2) {
      const back = await VideoBERT.load(join(dir, `save-${i}`))
      expect(back.step).toBeGreaterThanOrEqual(0)
      expect(back.step).toBeLessThanOrEqual(16)
    }
  }, 120_000)

  it('8 models × 4 steps in flight side by side: each ends as it would alone', async () => {
    const seeds = [0, 1, 2, 3, 4, 5, 6, 7]
    const run = async (seed: number) => {
      const m = await VideoBERT.create('tiny', { seed, numThreads: 1 })
      const b = randomBatch(m.config, { batchSize: 4, seed })
      return { m, b }
    }
    const concurrent = await Promise.all(seeds.map(run))
    await Promise.all(concurrent.flatMap(({ m, b }) => [0, 1, 2, 3].map(() => m.trainStep(b, { lr: 1e-3 }))))
    for (const [i, seed] of seeds.entries()) {
      const { m, b } = await run(seed)
      for (let s = 0; s < 4; s++) await m.trainStep(b, { lr: 1e-3 })
      expect(concurrent[i]!.m.step).toBe(4)
      expect((await concurrent[i]!.m.evaluate(concurrent[i]!.b)).loss).toBe((await m.evaluate(b)).loss)
    }
  }, 120_000)

  it('32 tokenizations of one file in flight on one tokenizer give the same tokens as one', async () => {
    const tokenizer = new VideoTokenizer({ fps: 10, framesPerSegment: 4 })
    const one = await tokenizer.tokenizeFile(video)
    const many = await Promise.all(Array.from({ length: 32 }, () => tokenizer.tokenizeFile(video)))
    for (const t of many) {
      expect(t.numSegments).toBe(one.numSegments)
      expect(Buffer.from(t.regions.buffer).equals(Buffer.from(one.regions.buffer))).toBe(true)
    }
  }, 120_000)

  it('a process may exit while native work is in flight', () => {
    const script = `
      const { VideoBERT, VideoTokenizer, randomBatch } = await import('videobert-native')
      const model = await VideoBERT.create('small', { seed: 1 })
      const b = randomBatch(model.config, { batchSize: 8 })
      for (let i = 0; i < 8; i++) model.trainStep(b, { lr: 1e-3 })
      model.save(${JSON.stringify(tempDir('exit-in-flight'))})
      new VideoTokenizer({}).tokenizeFile(${JSON.stringify(video)})
      setTimeout(() => { console.log('exiting'); process.exit(0) }, 50)
    `
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    expect(r.signal).toBeNull()
    expect(r.status).toBe(0)
    expect(r.stdout).toBe('exiting\n')
  })
})
