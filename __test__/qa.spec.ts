/**
 * Open-answer video question answering: questions from the manifest, the dataset, fine-tuning
 * through the Trainer, per-type evaluation, answering from the checkpoint, and the coded errors.
 */
import { copyFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

import {
  encodeQuestion,
  evaluateQA,
  finetuneQA,
  loadPretrained,
  QuestionDataset,
  questionsOf,
  resolveConfig,
  shardVideo,
  VideoBERT,
  type TextTokenizer,
  type TokenShards,
  type VideoRecord,
} from '../src/index.js'
import { buildCorpus } from './corpus.js'
import { expectCode, tempDir } from './helpers.js'

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')
const fixtures = fileURLToPath(new URL('./fixtures/video/', import.meta.url))
const colours = ['red', 'green', 'blue']
const directions = ['left', 'right']
/** Video i: a colour question (multiple choice; its answer depends on the video) and an "echo" question whose answer is in its text. */
const questions = (i: number) => ({
  questions: [
    { question: 'a circle', answer: colours[i % 3], type: 'colour', choices: colours },
    { question: `moves ${directions[(i >> 1) % 2]}`, answer: directions[(i >> 1) % 2], type: 'echo' },
  ],
})

let shards: TokenShards
let tokenizer: TextTokenizer
let dir: string
let ckpt: string
const config = resolveConfig({ preset: 'tiny', featureDim: 44, numRegions: 4, maxSegments: 4, maxTextLen: 6, vocabSize: 100 })

beforeAll(async () => {
  dir = tempDir('qa-corpus')
  ;({ shards, tokenizer } = await buildCorpus(dir, questions))
  ckpt = join(dir, 'pretrained')
  const model = await VideoBERT.create({ ...config, vocabSize: tokenizer.vocabSize }, { seed: 3 })
  await model.save(ckpt)
  copyFileSync(join(dir, 'tokenizer.json'), join(ckpt, 'tokenizer.json'))
})

const record = (metadata: Record<string, unknown>): VideoRecord => ({ id: 'x', path: 'x.mp4', numSegments: 1, duration: 1, segments: [[0, 1]], captions: [], metadata })

describe('questions', () => {
  it('are read from the manifest record; malformed ones, an answer outside its choices and a too-long question are coded errors', async () => {
    expect(questionsOf(shards.video(4))).toEqual([
      { question: 'a circle', answer: 'green', type: 'colour', choices: colours },
      { question: 'moves left', answer: 'left', type: 'echo' },
    ])
    expect(questionsOf(record({}))).toEqual([])
    expect(questionsOf(record({ questions: [{ question: 'why', answer: 3 }] }))).toEqual([{ question: 'why', answer: '3', type: 'all' }])
    await expectCode(() => questionsOf(record({ questions: [{ question: 'which?', answer: 'red', choices: ['green', 'blue'] }] })), 'InvalidInput', /'red' is not among its choices \[green, blue\]/)
    await expectCode(() => questionsOf(record({ questions: [{ answer: 'red' }] })), 'InvalidInput', /needs a question and an answer/)
    await expectCode(() => questionsOf(record({ questions: 'what?' })), 'InvalidInput', /must be a list/)
    await expectCode(() => questionsOf(record({ questions: [{ question: 'q', answer: 'a', choices: ['a'] }] })), 'InvalidInput', /at least 2/)
    await expectCode(() => encodeQuestion(tokenizer, config, 'a red circle moves left a blue square'), 'InvalidInput', /is 8 word pieces long; the model reads at most maxTextLen = 6/)
  })

  it('make one sample per window and question, labelled with the answer among the training answers', () => {
    const data = new QuestionDataset(shards, { ...config, vocabSize: tokenizer.vocabSize }, tokenizer, { validationFraction: 0.2, featureNorm: 'none' })
    const trainVideos = data.videos('train')
    const expected = [...new Set(trainVideos.flatMap((v) => questionsOf(shards.video(v)).map((q) => q.answer)))].sort()
    expect(data.answers).toEqual(expected)
    expect(data.samples.train).toHaveLength(data.windows.train.length * 2)
    const [batch] = [...data.batches('validation', 64)]
    const known = data.samples.validation.filter((s) => s.answer >= 0)
    expect(batch!.labels).toEqual(Uint32Array.from(known, (s) => s.answer))
    const L = config.maxTextLen
    known.forEach((s, b) => {
      const want = tokenizer.encode(questionsOf(shards.video(s.w.video))[s.question]!.question)
      expect(Array.from(batch!.textIds.subarray(b * L, b * L + want.length))).toEqual(Array.from(want))
      expect(data.answers[s.answer]).toBe(questionsOf(shards.video(s.w.video))[s.question]!.answer)
    })
  })
})

describe('finetuneQA', () => {
  it('learns an answer stated in the question, reports accuracy per type, and answers from its checkpoint', async () => {
    const out = tempDir('qa-run')
    const r = await finetuneQA({ checkpoint: ckpt, shards, out, steps: 80, batchSize: 8, lr: 3e-3, validationFraction: 0.2, progress: false })
    expect(r.answers).toEqual(['blue', 'green', 'left', 'red', 'right'])
    expect(r.validation).not.toBeNull()
    expect(Object.keys(r.validation!.perType).sort()).toEqual(['colour', 'echo'])
    expect(r.validation!.perType.colour!.chance).toBeCloseTo(1 / 3, 12)
    expect(r.validation!.questions).toBe(r.videos.validation * 2)
    // The echo questions name their answer: on the training videos the head must have learnt them.
    const data = new QuestionDataset(shards, r.model.config, tokenizer, { validationFraction: 0.2, featureNorm: 'none' })
    const train = await evaluateQA(r.model, data, 'train')
    expect(train.perType.echo!.accuracy).toBe(1)
    expect(train.perType.echo!.chance).toBeCloseTo(1 / 2, 12)
    // A set evaluated on its own (`answer --shards`: no training questions): chance is a guess among
    // the answers of the question's type in the set (left, right), not among all five answers.
    const alone = new QuestionDataset(shards, r.model.config, tokenizer, { validationFraction: 1, featureNorm: 'none', answers: r.answers })
    const report = await evaluateQA(r.model, alone, 'validation')
    expect(report.perType.echo!.chance).toBeCloseTo(1 / 2, 12)
    expect(report.perType.colour!.chance).toBeCloseTo(1 / 3, 12)
    // Multiple-choice questions are answered among their choices only.
    expect(r.validation!.examples.filter((e) => e.question === 'a circle').every((e) => colours.includes(e.predicted))).toBe(true)

    const p = await loadPretrained(r.checkpoint)
    expect(p.task).toBe('qa')
    const v = shardVideo(shards, 2)
    const [echo, colour] = await p.answer(v, [{ question: 'moves right' }, { question: 'a circle', choices: ['red', 'blue'] }])
    expect(echo!.answer).toBe('right')
    expect(echo!.probabilities).toHaveLength(5)
    expect(colour!.probabilities.map((x) => x.answer).sort()).toEqual(['blue', 'red'])
    expect(colour!.probabilities[0]!.probability + colour!.probabilities[1]!.probability).toBeCloseTo(1, 9)
    await expectCode(() => p.answer(v, [{ question: 'a circle', choices: ['purple', 'red'] }]), 'InvalidInput', /'purple' is not an answer the model knows/)
    await expectCode(() => p.answer(v, [{ question: 'a red circle moves left a blue square' }]), 'InvalidInput', /maxTextLen/)
    await expectCode(() => p.classifyVideos([v]), 'Checkpoint', /task qa/)
    // A checkpoint that is not a QA model cannot answer.
    const plain = await loadPretrained(ckpt)
    await expectCode(() => plain.answer(v, [{ question: 'moves left' }]), 'Checkpoint', /not a question-answering model/)
  }, 120_000)

  it('runs from the CLI: finetune --task qa, answer one question, answer a shard set', () => {
    const out = tempDir('qa-cli')
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })
    const ft = run('finetune', '--task', 'qa', '--checkpoint', ckpt, '--shards', join(dir, 'shards'), '--out', out, '--steps', '80', '--batch-size', '8', '--lr', '3e-3', '--validation-fraction', '0.2', '--json')
    expect(ft.status, ft.stderr).toBe(0)
    const summary = JSON.parse(ft.stdout)
    expect(summary.answers).toEqual(['blue', 'green', 'left', 'red', 'right'])
    expect(summary.validation.perType.echo.questions).toBe(summary.videos.validation)
    const one = run('answer', '--checkpoint', summary.checkpoint, '--video', join(fixtures, 'h264.mp4'), '--question', 'moves left', '--json')
    expect(one.status, one.stderr).toBe(0)
    expect(JSON.parse(one.stdout)).toMatchObject({ question: 'moves left', answer: 'left' })
    const text = run('answer', '--checkpoint', summary.checkpoint, '--video', join(fixtures, 'h264.mp4'), '--question', 'a circle', '--choices', 'red,green')
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^(red|green)\t0\.\d{3}\n$/)
    const set = run('answer', '--checkpoint', summary.checkpoint, '--shards', join(dir, 'shards'))
    expect(set.status, set.stderr).toBe(0)
    expect(set.stdout).toMatch(/accuracy \d\.\d{3} on 20 questions/)
    expect(set.stdout).toMatch(/\necho +1\.000 +0\.500 +- +10\n/)
    const wrongFlag = run('finetune', '--task', 'qa', '--checkpoint', ckpt, '--shards', join(dir, 'shards'), '--out', tempDir('qa-cli-bad'), '--label', 'x')
    expect(wrongFlag.status).toBe(1)
    expect(wrongFlag.stderr).toMatch(/--label is for another task/)
    const notQA = run('answer', '--checkpoint', ckpt, '--video', join(fixtures, 'h264.mp4'), '--question', 'moves left')
    expect(notQA.status).toBe(1)
    expect(notQA.stderr).toMatch(/not a question-answering model/)
    expect(run('answer', '--help').stdout).toMatch(/--choices a,b,c/)
    expect(run('finetune', '--task', 'qa', '--help').stdout).toMatch(/Usage: videobert finetune --task qa/)
  }, 120_000)

  it('refuses a shard set without questions', async () => {
    const { shards: bare, tokenizer: t } = await buildCorpus(tempDir('qa-bare'))
    await expectCode(() => new QuestionDataset(bare, { ...config, vocabSize: t.vocabSize }, t, { featureNorm: 'none' }), 'InvalidInput', /no video of the shard set has `questions`/)
  }, 60_000)
})

describe('multiple-choice QA', () => {
  /** Video i: an echo question whose answer is in its text (2 choices) and a colour question (3 choices). */
  const mc = (i: number) => ({
    questions: [
      { question: `moves ${directions[(i >> 1) % 2]}`, answer: directions[(i >> 1) % 2], type: 'echo', choices: directions },
      { question: 'a circle', answer: colours[i % 3], type: 'colour', choices: colours },
    ],
  })
  let mcDir: string
  let mcShards: TokenShards

  beforeAll(async () => {
    mcDir = tempDir('qa-mc')
    ;({ shards: mcShards } = await buildCorpus(mcDir, mc))
  }, 60_000)

  it('makes K rows per question ("question candidate"), batches questions of one K, and labels the right row', () => {
    const data = new QuestionDataset(mcShards, { ...config, vocabSize: tokenizer.vocabSize }, tokenizer, { validationFraction: 0.2, featureNorm: 'none', format: 'multiple-choice' })
    const L = config.maxTextLen
    let questions = 0
    for (const batch of data.batches('train', 3)) {
      const k = batch.numChoices!
      expect([2, 3]).toContain(k)
      expect(batch.batchSize % k).toBe(0)
      expect(batch.labels).toHaveLength(batch.batchSize / k)
      expect(batch.vtmLabels).toBeUndefined()
      questions += batch.labels!.length
      const first = Array.from(batch.textIds.subarray(0, L)).filter((id) => id !== 0)
      const q = k === 2 ? 'moves' : 'a circle'
      expect(tokenizer.decode(first).startsWith(q)).toBe(true)
    }
    expect(questions).toBe(data.samples.train.length)
    const s = data.samples.train.find((x) => x.choices!.length === 2)!
    const q = questionsOf(mcShards.video(s.w.video))[s.question]!
    expect(s.answer).toBe(q.choices!.indexOf(q.answer))
    expect(s.choices!.map((c) => tokenizer.decode([...c]))).toEqual(directions.map((d) => `${q.question} ${d}`))
  })

  it('trains the matching head with a softmax over the choices, reports per type, and answers among given choices', async () => {
    const out = tempDir('qa-mc-run')
    const r = await finetuneQA({ checkpoint: ckpt, shards: mcShards, out, steps: 80, batchSize: 4, lr: 3e-3, validationFraction: 0.2, format: 'multiple-choice', progress: false })
    expect(r.answers).toEqual([])
    expect(r.model.config.numLabels).toBe(0)
    expect(r.validation!.perType.echo!.chance).toBeCloseTo(1 / 2, 12)
    expect(r.validation!.perType.colour!.chance).toBeCloseTo(1 / 3, 12)
    const data = new QuestionDataset(mcShards, r.model.config, tokenizer, { validationFraction: 0.2, featureNorm: 'none', format: 'multiple-choice' })
    const train = await evaluateQA(r.model, data, 'train')
    expect(train.perType.echo!.accuracy).toBe(1) // the answer is in the question: learnt
    expect(train.examples.every((e) => [...directions, ...colours].includes(e.predicted))).toBe(true)

    const p = await loadPretrained(r.checkpoint)
    expect(p.task).toBe('multiple-choice')
    const v = shardVideo(mcShards, 2)
    const [a] = await p.answer(v, [{ question: 'moves right', choices: ['left', 'right'] }])
    expect(a!.answer).toBe('right')
    expect(a!.probabilities.reduce((t, x) => t + x.probability, 0)).toBeCloseTo(1, 9)
    await expectCode(() => p.answer(v, [{ question: 'moves right' }]), 'InvalidInput', /give at least 2/)
    await expectCode(() => p.answer(v, [{ question: 'a red circle moves left a', choices: ['x', 'y'] }]), 'InvalidInput', /maxTextLen/)
  }, 120_000)

  it('refuses questions without choices and question + choice texts the model cannot read', async () => {
    const cfg = { ...config, vocabSize: tokenizer.vocabSize }
    await expectCode(() => new QuestionDataset(shards, cfg, tokenizer, { featureNorm: 'none', format: 'multiple-choice' }), 'InvalidInput', /question 1 \('moves (left|right)'\) has no choices/)
    const { shards: long } = await buildCorpus(tempDir('qa-mc-long'), () => ({ questions: [{ question: 'a red circle moves', answer: 'left blue square', choices: ['left blue square', 'right'] }] }))
    await expectCode(() => new QuestionDataset(long, cfg, tokenizer, { featureNorm: 'none', format: 'multiple-choice' }), 'InvalidInput', /with its choice 'left blue square' .* maxTextLen = 6/)
  }, 60_000)
})

