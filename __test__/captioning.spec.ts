/**
 * Supervised captioning: the dataset, fine-tuning a caption decoder through the Trainer (metrics,
 * validation, exact resume), captions from its checkpoint (greedy, beam, beam 1 = greedy), the CLI,
 * and the coded errors.
 */
import { copyFileSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

import {
  CaptionDataset,
  captionVideos,
  finetuneCaptioner,
  loadPretrained,
  resolveConfig,
  scoreCaptions,
  shardVideo,
  Trainer,
  VideoBERT,
  type TextTokenizer,
  type TokenShards,
  type TrainerOptions,
} from '../src/index.js'
import { buildCorpus } from './corpus.js'
import { expectCode, tempDir } from './helpers.js'

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')
const fixtures = fileURLToPath(new URL('./fixtures/video/', import.meta.url))

let shards: TokenShards
let tokenizer: TextTokenizer
let dir: string
let ckpt: string
const base = resolveConfig({ preset: 'tiny', featureDim: 44, numRegions: 4, maxSegments: 4, maxTextLen: 6, vocabSize: 100 })
let config: typeof base

beforeAll(async () => {
  dir = tempDir('caption-corpus')
  ;({ shards, tokenizer } = await buildCorpus(dir))
  config = { ...base, vocabSize: tokenizer.vocabSize }
  ckpt = join(dir, 'pretrained')
  const model = await VideoBERT.create(config, { seed: 3 })
  await model.save(ckpt)
  copyFileSync(join(dir, 'tokenizer.json'), join(ckpt, 'tokenizer.json'))
})

describe('CaptionDataset', () => {
  it('pairs every captioned window (video only) with its caption as the decoder target', () => {
    const data = new CaptionDataset(shards, { ...config, decoderLayers: 1 }, tokenizer, { validationFraction: 0.2, featureNorm: 'none' })
    expect(data.objective).toBe('caption')
    expect(data.windows.train.length).toBeGreaterThan(data.videos('train').length) // several windows per video
    expect(data.windows.train.every((w) => w.text !== '')).toBe(true)
    const L = config.maxTextLen
    const [batch] = [...data.batches('validation', 64)]
    expect(batch!.batchSize).toBe(data.windows.validation.length)
    expect(batch!.textIds.every((id) => id === config.padTokenId)).toBe(true)
    expect(batch!.vtmLabels).toBeUndefined()
    data.windows.validation.forEach((w, b) => {
      const want = tokenizer.encode(w.text, L)
      expect(Array.from(batch!.captionIds!.subarray(b * L, (b + 1) * L))).toEqual([...want, ...Array.from({ length: L - want.length }, () => config.padTokenId)])
    })
  })
})

describe('finetuneCaptioner', () => {
  it('learns the training captions, scores the held-out videos, and captions from its checkpoint with the decoder', async () => {
    const out = tempDir('caption-run')
    const r = await finetuneCaptioner({ checkpoint: ckpt, shards, out, steps: 150, batchSize: 8, lr: 3e-3, validationFraction: 0.2, decoderLayers: 1, progress: false })
    expect(r.model.config.decoderLayers).toBe(1)
    expect(r.validation).not.toBeNull()
    expect(r.validation!.windows).toBeGreaterThan(0)
    for (const k of ['bleu4', 'rougeL', 'ciderD'] as const) expect(Number.isFinite(r.validation!.scores[k])).toBe(true)
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    const train = metrics.filter((m) => m.split === 'train')
    expect(train[0].captionLoss).toBeGreaterThan(3)
    expect(train.at(-1).captionLoss).toBeLessThan(0.5 * train[0].captionLoss)
    expect(metrics.some((m) => m.split === 'validation' && m.captionLoss > 0)).toBe(true)

    // From the checkpoint, on the training videos: the decoder writes their captions.
    const p = await loadPretrained(r.checkpoint)
    expect(p.model.config.decoderLayers).toBe(1)
    const data = new CaptionDataset(shards, p.model.config, tokenizer, { validationFraction: 0.2, featureNorm: p.featureNorm ?? 'none' })
    const inputs = data.windows.train.map((w) => {
      const b = data.collate([w])!
      return { features: b.videoFeatures!, mask: b.videoMask! }
    })
    // The fixtures are one test pattern in ten codecs, so the video barely tells the captions apart:
    // the decoder must have learnt the caption language (every caption is a training caption) and
    // do better than always writing the most frequent one.
    const refs = data.windows.train.map((w) => w.text)
    const greedy = await captionVideos(p, inputs)
    expect(greedy.every((c) => refs.includes(c.text) && c.score < 0)).toBe(true)
    const exact = greedy.filter((c, i) => c.text === refs[i]).length / refs.length
    const majority = Math.max(...refs.map((t) => refs.filter((x) => x === t).length)) / refs.length
    expect(exact).toBeGreaterThan(majority)
    expect(scoreCaptions(greedy.map((c) => c.text), refs.map((t) => [t])).ciderD).toBeGreaterThan(1)
    const beam1 = await captionVideos(p, inputs, { strategy: 'beam', beamSize: 1 })
    expect(beam1).toEqual(greedy)
    const beam4 = await captionVideos(p, inputs, { strategy: 'beam', beamSize: 4, lengthPenalty: 0 })
    const greedyRaw = await captionVideos(p, inputs, { lengthPenalty: 0 })
    beam4.forEach((c, i) => expect(c.score).toBeGreaterThanOrEqual(greedyRaw[i]!.score - 1e-6))
    // Masked decoding is still there on request; top-k sampling is not the decoder's.
    const masked = await captionVideos(p, inputs.slice(0, 2), { decoder: 'masked' })
    expect(masked).toHaveLength(2)
    await expectCode(() => captionVideos(p, inputs, { strategy: 'top-k' }), 'InvalidInput', /top-k sampling is masked decoding's/)
    // A checkpoint without a decoder asked for supervised captions.
    const plain = await loadPretrained(ckpt)
    await expectCode(() => captionVideos(plain, inputs, { decoder: 'supervised' }), 'Checkpoint', /no caption decoder/)
    await expectCode(() => plain.model.generateCaptions(data.collate([data.windows.train[0]!])!), 'InvalidInput', /no caption decoder/)
  }, 180_000)

  it('resumes an interrupted captioning run to the same losses, bit for bit', async () => {
    const data = new CaptionDataset(shards, config, tokenizer, { validationFraction: 0.2, featureNorm: 'none' })
    const options = (out: string, extra: Partial<TrainerOptions> = {}): TrainerOptions => ({
      out, steps: 10, batchSize: 4, schedule: { lr: 2e-3, warmupSteps: 2, decay: 'cosine' }, evalEvery: 5, checkpointEvery: 5, keepLast: 2, monitor: 'captionLoss', progress: false, ...extra,
    })
    const losses = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.split === 'train')
    const straight = tempDir('caption-straight')
    await new Trainer(options(straight)).fit(await VideoBERT.forCaptioning(ckpt, { decoderLayers: 1 }, { seed: 4 }), data)
    const out = tempDir('caption-resumed')
    const controller = new AbortController()
    const stop = { onTrainBatchEnd: (_t: Trainer, step: number) => (step === 5 ? controller.abort() : undefined) }
    const first = await new Trainer(options(out, { signal: controller.signal, callbacks: [stop] })).fit(await VideoBERT.forCaptioning(ckpt, { decoderLayers: 1 }, { seed: 4 }), data)
    expect(first.state.step).toBe(5)
    const second = await new Trainer(options(out, { resume: true })).fit(await VideoBERT.forCaptioning(ckpt, { decoderLayers: 1 }, { seed: 99 }), data)
    expect(second.state.step).toBe(10)
    expect(losses(out)).toEqual(losses(straight))
    expect(losses(out).every((m) => m.captionLoss > 0 && m.mlmLoss === 0)).toBe(true)
  }, 120_000)

  it('runs from the CLI: finetune --task caption, then caption with the decoder', () => {
    const out = tempDir('caption-cli')
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })
    const ft = run('finetune', '--task', 'caption', '--checkpoint', ckpt, '--shards', join(dir, 'shards'), '--out', out, '--steps', '30', '--batch-size', '8', '--lr', '3e-3', '--decoder-layers', '1', '--validation-fraction', '0.2', '--json')
    expect(ft.status, ft.stderr).toBe(0)
    const summary = JSON.parse(ft.stdout)
    expect(summary.steps).toBe(30)
    expect(summary.validation.scores.ciderD).toBeGreaterThanOrEqual(0)
    const cap = run('caption', '--checkpoint', summary.checkpoint, join(fixtures, 'h264.mp4'), '--strategy', 'beam', '--beam-size', '3', '--json')
    expect(cap.status, cap.stderr).toBe(0)
    const caps = JSON.parse(cap.stdout)
    expect(caps.options).toMatchObject({ decoder: 'supervised', strategy: 'beam', beamSize: 3, noRepeatNgram: 3 })
    expect(caps.captions[0].caption.length).toBeGreaterThan(0)
    const text = run('caption', '--checkpoint', summary.checkpoint, join(fixtures, 'h264.mp4'))
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/h264\.mp4\t(a \w+ \w+|moves \w+)\t\(-\d+\.\d{3}\)\n$/)
    const none = run('caption', '--checkpoint', ckpt, '--decoder', 'supervised', join(fixtures, 'h264.mp4'))
    expect(none.status).toBe(1)
    expect(none.stderr).toMatch(/no caption decoder/)
    const wrong = run('finetune', '--task', 'caption', '--checkpoint', ckpt, '--shards', join(dir, 'shards'), '--out', tempDir('caption-cli-bad'), '--label', 'x')
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/--label is for another task/)
    expect(run('finetune', '--task', 'caption', '--help').stdout).toMatch(/--decoder-layers N/)
    expect(run('caption', '--help').stdout).toMatch(/--no-repeat-ngram N/)
  }, 120_000)
})

it('a shard set with no captioned training window cannot train a captioner', () => {
  expect(shardVideo(shards, 0).numSegments).toBeGreaterThan(0)
  return expectCode(() => new CaptionDataset(shards, config, tokenizer, { validationFraction: 1, featureNorm: 'none' }), 'InvalidInput', /no captioned training window/)
})
