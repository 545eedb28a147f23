import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

import { CheckpointManager, HealthMonitor, layerRatesAt, learningRate, resolveConfig, Trainer, VideoBERT, VideoTextDataset, type TrainerOptions } from '../src/index.js'
import { buildCorpus } from './corpus.js'
import { expectCode, tempDir } from './helpers.js'

let data: VideoTextDataset
const config = resolveConfig({ preset: 'tiny', featureDim: 44, numRegions: 4, maxSegments: 4, maxTextLen: 12, vocabSize: 100 })

beforeAll(async () => {
  const { shards, tokenizer } = await buildCorpus(tempDir('trainer-corpus'))
  data = new VideoTextDataset(shards, config, tokenizer, { validationFraction: 0.2, seed: 1 })
})

const base = (out: string, extra: Partial<TrainerOptions> = {}): TrainerOptions => ({
  out,
  steps: 12,
  batchSize: 4,
  gradientAccumulation: 2,
  schedule: { lr: 2e-3, warmupSteps: 3, decay: 'cosine' },
  evalEvery: 4,
  checkpointEvery: 4,
  keepLast: 2,
  progress: false,
  ...extra,
})

function trainLosses(out: string): unknown[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.split === 'train')
}

describe('learningRate', () => {
  it('warms up linearly, then decays', () => {
    const o = { lr: 1, warmupSteps: 10 }
    expect(learningRate(0, 100, o)).toBeCloseTo(0.1)
    expect(learningRate(9, 100, o)).toBeCloseTo(1)
    expect(learningRate(55, 100, o)).toBeCloseTo(0.5)
    expect(learningRate(100, 100, o)).toBeCloseTo(0)
    expect(learningRate(55, 100, { ...o, decay: 'linear' })).toBeCloseTo(0.5)
    expect(learningRate(99, 100, { ...o, decay: 'constant' })).toBe(1)
  })

  it('layer rates: the encoder frozen for the first freezeSteps, then at its scale; decay throughout', () => {
    const o = { layerDecay: 0.7, encoderLrScale: 0.5, freezeSteps: 3 }
    expect(layerRatesAt(0, o)).toEqual({ layerDecay: 0.7, encoderLrScale: 0 })
    expect(layerRatesAt(2, o)).toEqual({ layerDecay: 0.7, encoderLrScale: 0 })
    expect(layerRatesAt(3, o)).toEqual({ layerDecay: 0.7, encoderLrScale: 0.5 })
    expect(layerRatesAt(0, {})).toEqual({ layerDecay: 1, encoderLrScale: 1 })
  })
})

describe('Trainer', () => {
  it('trains, validates, checkpoints, logs metrics and calls the callbacks in order', async () => {
    const out = tempDir('fit')
    const calls: string[] = []
    const cb = {
      onFitStart: () => void calls.push('start'),
      onTrainBatchEnd: (_t: Trainer, step: number) => void calls.push(`batch ${step}`),
      onValidationEnd: (_t: Trainer, step: number) => void calls.push(`val ${step}`),
      onSaveCheckpoint: (_t: Trainer, path: string) => void calls.push(`save ${path.split('/').pop()}`),
      onFitEnd: () => void calls.push('end'),
    }
    const model = await VideoBERT.create(config, { seed: 1 })
    const r = await new Trainer(base(out, { callbacks: [cb] })).fit(model, data)
    expect(r.stopped).toBe('completed')
    expect(r.dataWaitFraction).toBeGreaterThan(0)
    expect(r.dataWaitFraction).toBeLessThan(0.5)
    expect(r.skipped).toEqual([])
    expect(r.state.step).toBe(12)
    expect(model.step).toBe(12)
    expect(calls.slice(0, 6)).toEqual(['start', 'batch 1', 'batch 2', 'batch 3', 'batch 4', 'val 4'])
    expect(calls).toContain('save step-8')
    expect(calls.at(-1)).toBe('end')
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(lines.filter((l) => l.split === 'train')).toHaveLength(12)
    expect(lines.filter((l) => l.split === 'validation').map((l) => l.step)).toEqual([4, 8, 12])
    // Validation reports masked-word accuracy and retrieval among the validation windows.
    const val = lines.filter((l) => l.split === 'validation')
    for (const v of val) {
      expect(v.mlmAccuracy).toBeGreaterThanOrEqual(0)
      expect(v.mlmAccuracy).toBeLessThanOrEqual(1)
      expect(v.retrievalCandidates).toBe(data.windows.validation.length)
      expect(v.retrievalR1).toBeLessThanOrEqual(v.retrievalR5)
      expect(v.retrievalChanceR1).toBeGreaterThan(0)
    }
    expect(r.lastValidation).toEqual(Object.fromEntries(Object.entries(val.at(-1)).filter(([k]) => k !== 'step' && k !== 'split')))
    const html = readFileSync(join(out, 'loss-curve.html'), 'utf8')
    expect(html.match(/<polyline/g)).toHaveLength(4)
    expect(html.match(/<circle/g)).toHaveLength(4 * 3)
    expect(html.match(/points="([^"]+)"/)![1]!.split(' ')).toHaveLength(12)
    const kept = readdirSync(join(out, 'checkpoints')).sort()
    expect(kept).toContain('step-12')
    expect(kept).toContain('step-8')
    expect(kept.length).toBeLessThanOrEqual(3) // last 2, plus the best if older
    expect(r.state.best).not.toBeNull()
    expect(kept).toContain(`step-${r.state.best!.step}`)
  })

  it('validates on a separate dataset when given one; retrieval can be turned off', async () => {
    const { shards, tokenizer } = await buildCorpus(tempDir('trainer-val-corpus'))
    const heldOut = new VideoTextDataset(shards, config, tokenizer, { validationFraction: 1, featureNorm: data.featureNorm! })
    const r = await new Trainer(base(tempDir('fit-val'), { steps: 2, evalEvery: 0 })).fit(await VideoBERT.create(config, { seed: 2 }), data, heldOut)
    expect(r.lastValidation!.retrievalCandidates).toBe(heldOut.windows.validation.length)
    expect(heldOut.windows.validation.length).toBeGreaterThan(data.windows.validation.length)
    const off = await new Trainer(base(tempDir('fit-noret'), { steps: 1, validationRetrieval: false })).fit(await VideoBERT.create(config, { seed: 2 }), data)
    expect(off.lastValidation!.retrievalR1).toBeUndefined()
    expect(off.lastValidation!.mlmLoss).toBeGreaterThan(0)
  })

  it('an interrupted run resumed from its checkpoint logs the same losses, bit for bit', async () => {
    const straightOut = tempDir('straight')
    await new Trainer(base(straightOut)).fit(await VideoBERT.create(config, { seed: 5 }), data)

    const out = tempDir('interrupted')
    const controller = new AbortController()
    const stopAt7 = { onTrainBatchEnd: (_t: Trainer, step: number) => (step === 7 ? controller.abort() : undefined) }
    const first = await new Trainer(base(out, { signal: controller.signal, callbacks: [stopAt7] })).fit(await VideoBERT.create(config, { seed: 5 }), data)
    expect(first.stopped).toBe('aborted')
    expect(first.state.step).toBe(7)
    expect(existsSync(join(out, 'checkpoints', 'step-7'))).toBe(true)

    // A crash during a later save leaves a .tmp directory behind: resume must ignore it.
    mkdirSync(join(out, 'checkpoints', '.tmp-step-9'), { recursive: true })
    const second = await new Trainer(base(out, { resume: true })).fit(await VideoBERT.create(config, { seed: 999 }), data)
    expect(second.state.step).toBe(12)
    expect(trainLosses(out)).toEqual(trainLosses(straightOut))
    expect(existsSync(join(out, 'checkpoints', '.tmp-step-9'))).toBe(false)
  })

  it('a run killed before its first complete checkpoint resumes from the start, its stale metrics dropped', async () => {
    const straightOut = tempDir('straight-none')
    await new Trainer(base(straightOut)).fit(await VideoBERT.create(config, { seed: 5 }), data)
    // What a kill leaves before any checkpoint completes: train lines, a half-written line, a .tmp directory.
    const out = tempDir('killed-early')
    mkdirSync(join(out, 'checkpoints', '.tmp-step-4'), { recursive: true })
    writeFileSync(join(out, 'metrics.jsonl'), `${readFileSync(join(straightOut, 'metrics.jsonl'), 'utf8').split('\n').slice(0, 3).join('\n')}\n{"step":4,"spl`)
    const r = await new Trainer(base(out, { resume: true })).fit(await VideoBERT.create(config, { seed: 5 }), data)
    expect(r.state.step).toBe(12)
    expect(trainLosses(out)).toEqual(trainLosses(straightOut))
  })

  it('refuses a resume with another architecture and an unwritable run directory', async () => {
    const out = tempDir('arch')
    await new Trainer(base(out, { steps: 2 })).fit(await VideoBERT.create(config, { seed: 1 }), data)
    const other = await VideoBERT.create({ ...config, preset: 'tiny', intermediateSize: 128 } as never, { seed: 1 })
    await expectCode(() => new Trainer(base(out, { resume: true })).fit(other, data), 'Checkpoint', /architecture differs/)
    // (Tests run as root, so permissions cannot make a directory unwritable: use a path under a file.)
    const file = join(tempDir('file'), 'plain-file')
    writeFileSync(file, 'x')
    await expectCode(async () => new CheckpointManager(join(file, 'run')), 'Io', /not writable/)
  })
})

describe('the training health report', () => {
  const healthRun = async (name: string, lr: number, extra: Partial<typeof config> = {}) => {
    const out = tempDir(name)
    const model = await VideoBERT.create({ ...config, ...extra }, { seed: 3 })
    const r = await new Trainer(
      base(out, { steps: 60, gradientAccumulation: 1, batchSize: 8, schedule: { lr, warmupSteps: 0, decay: 'constant' }, evalEvery: 0, checkpointEvery: 0, health: { after: 30, checkEvery: 30 } }),
    ).fit(model, data)
    const logged = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.split === 'health')
    return { r, logged }
  }

  it('says when the losses do not move and matching sits at ln 2 (a zero learning rate), in the result and metrics.jsonl', async () => {
    const { r, logged } = await healthRun('health-stuck', 0)
    const kinds = r.health.map((w) => `${w.loss} ${w.kind}`)
    expect(kinds).toEqual(expect.arrayContaining(['mlm stuck', 'vtm chance']))
    for (const w of r.health) expect(w.step).toBe(30) // said once, at the first check, not again at 60
    expect(r.health.find((w) => w.kind === 'chance')!.message).toMatch(/ln 2 .*higher learning rate/)
    expect(logged.flatMap((l) => l.warnings)).toEqual(r.health)
  })

  it('says when one loss makes nearly all of the gradient, naming its weight', async () => {
    const { r } = await healthRun('health-dominant', 2e-3, { videoWeight: 1000 })
    const dominant = r.health.filter((w) => w.kind === 'dominant')
    expect(dominant.map((w) => w.loss)).toEqual(['video'])
    expect(dominant[0]!.message).toMatch(/videoWeight/)
  })

  it('says when a loss that sat at chance moves again, and the progress line drops it', async () => {
    const monitor = new HealthMonitor(200, 'pretrain', { after: 50, checkEvery: 50 })
    const norms = { mlm: 1, video: 1, vtm: 1 }
    const model = { config: { numLabels: 0 }, lossGradNorms: async () => norms } as unknown as VideoBERT
    const step = (mlm: number, vtm: number) => ({ loss: 0, mlmLoss: mlm, videoLoss: 1 - mlm / 10, vtmLoss: vtm, classifyLoss: 0, captionLoss: 0, accuracy: 0, mlmAccuracy: 0, gradNorm: 1 })
    for (let s = 1; s <= 50; s++) monitor.observe(step(4 - s / 20, Math.log(2)))
    expect((await monitor.check(50, model, {} as never)).map((w) => `${w.loss} ${w.kind}`)).toEqual(['vtm chance'])
    expect(monitor.active).toEqual(['vtm chance'])
    for (let s = 51; s <= 100; s++) monitor.observe(step(1, 0.4))
    const later = await monitor.check(100, model, {} as never)
    expect(later.map((w) => `${w.loss} ${w.kind}`)).toEqual(['vtm recovered'])
    expect(later[0]!.message).toMatch(/moves now \(0\.400/)
    expect(monitor.active).toEqual([])
    // A loss that dominates the gradient, then stops dominating.
    norms.video = 100
    expect((await monitor.check(150, model, {} as never)).map((w) => `${w.loss} ${w.kind}`)).toEqual(['video dominant'])
    norms.video = 1
    expect((await monitor.check(200, model, {} as never)).map((w) => `${w.loss} ${w.kind}`)).toEqual(['video recovered'])
  })

  it('stays quiet with the defaults on data that learns, and can be turned off', async () => {
    const { r } = await healthRun('health-ok', 2e-3)
    expect(r.health.filter((w) => w.kind === 'dominant' || w.loss === 'mlm')).toEqual([])
    const off = await new Trainer(base(tempDir('health-off'), { steps: 2, health: false })).fit(await VideoBERT.create(config, { seed: 3 }), data)
    expect(off.health).toEqual([])
  })
})
