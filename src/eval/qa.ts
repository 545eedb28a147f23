/**
 * Question-answering evaluation: each (video, question) is answered from the answer probabilities
 * averaged over the video's windows (weighted by their segments), restricted to the question's
 * choices when it has them — or, for multiple-choice data, from each candidate's matching score
 * averaged the same way; accuracy overall and per question type, against chance (a uniform guess
 * among the type's training answers — or, with no training question of the type, among the answers
 * it takes in the evaluated set — or among the choices) and the majority answer.
 */
import type { Split } from '../data/dataset.js'
import type { QuestionDataset, QuestionSample } from '../data/questions.js'
import { VideoBertError } from '../errors.js'
import type { VideoBERT } from '../model.js'

/** One question type's figures: the questions answered, the accuracy, and the chance and majority baselines. */
export interface QuestionTypeReport {
  questions: number
  accuracy: number
  /** Expected accuracy of a uniform guess among the choices, or the type's training answers (all known answers when the data has no training split). */
  chance: number
  /** Accuracy of always giving the type's most frequent training answer; null without training questions of the type. */
  majority: number | null
}

/** What `evaluateQA` returns: overall and per-type accuracy, answers never seen in training, and a few examples. */
export interface QAReport {
  /** (video, question) pairs answered. */
  questions: number
  accuracy: number
  perType: Record<string, QuestionTypeReport>
  /** Questions whose answer no training question has (counted as wrong). */
  unseenAnswers: number
  /** A few answers, in split order. */
  examples: { video: string; question: string; answer: string; predicted: string }[]
}

/** The answer index among `probs` (over the vocabulary), restricted to `allowed` when given. */
export function bestAnswer(probs: ArrayLike<number>, allowed: number[] | null): number {
  const candidates = allowed ?? Array.from({ length: probs.length }, (_, i) => i)
  let best = -1
  for (const c of candidates) if (best < 0 || probs[c]! > probs[best]!) best = c
  return best
}

/** Options of `evaluateQA`: the batch size, and the data the baselines come from. */
export interface EvaluateQAOptions {
  /** @default 64 */
  batchSize?: number
  /** The data whose training questions give the chance and majority baselines. @default `data` */
  baseline?: QuestionDataset
}

/**
 * Answer every (video, question) of a split from its windows' averaged scores and report accuracy
 * overall and per question type (see the module notes). A model for open answers needs a head over
 * `data.answers`; multiple-choice data needs one without a task head.
 */
export async function evaluateQA(model: VideoBERT, data: QuestionDataset, split: Split, options: EvaluateQAOptions = {}): Promise<QAReport> {
  const batchSize = options.batchSize ?? 64
  const baseline = options.baseline ?? data
  const choice = data.format === 'multiple-choice'
  const A = data.answers.length
  if (choice && (model.config.numLabels > 0 || model.config.decoderLayers > 0)) throw new VideoBertError('InvalidInput', 'multiple-choice QA reads the matching head of a model without a task head')
  if (!choice && model.config.numLabels !== A) throw new VideoBertError('InvalidInput', `the model has ${model.config.numLabels} answers, the data ${A}`)
  const samples = data.samples[split]
  if (samples.length === 0) throw new VideoBertError('InvalidInput', `QA evaluation: the ${split} split has no questions`)
  // Scores summed per (video, question), weighted by window length: the open answers' probabilities,
  // or the choices' matching log-odds.
  const sums = new Map<string, { video: number; question: number; probs: Float64Array }>()
  const add = (s: QuestionSample, values: ArrayLike<number>, offset: number, n: number) => {
    const key = `${s.w.video}/${s.question}`
    let entry = sums.get(key)
    if (!entry) sums.set(key, (entry = { video: s.w.video, question: s.question, probs: new Float64Array(n) }))
    for (let a = 0; a < n; a++) entry.probs[a]! += values[offset + a]! * s.w.count
  }
  if (choice) {
    // Questions with the same number of choices go together (one batch has one K).
    for (const k of new Set(samples.map((s) => s.choices!.length))) {
      const same = samples.filter((s) => s.choices!.length === k)
      const per = Math.max(1, Math.floor(batchSize / k))
      for (let start = 0; start < same.length; start += per) {
        const { batch, kept } = data.collate(same.slice(start, start + per))
        if (!batch) continue
        const logits = await model.matchLogits({ ...batch, labels: undefined, numChoices: undefined })
        kept.forEach((s, b) => add(s, logits, b * k, k))
      }
    }
  } else {
    for (let start = 0; start < samples.length; start += batchSize) {
      const { batch, kept } = data.collate(samples.slice(start, start + batchSize))
      if (!batch) continue
      const probs = await model.classify(batch)
      kept.forEach((s, b) => add(s, probs, b * A, A))
    }
  }
  const index = new Map(data.answers.map((a, i) => [a, i]))
  // Training answers per type: the chance and majority baselines.
  const trainByType = new Map<string, Map<string, number>>()
  for (const v of baseline.videos('train')) {
    for (const q of baseline.questions.get(v)!) {
      const m = trainByType.get(q.type) ?? new Map<string, number>()
      m.set(q.answer, (m.get(q.answer) ?? 0) + 1)
      trainByType.set(q.type, m)
    }
  }
  // A type no training question has (`answer --shards` evaluates a set on its own): chance is a
  // uniform guess among the answers that type takes in the evaluated set, not among every answer.
  const setByType = new Map<string, Set<string>>()
  for (const qs of data.questions.values()) {
    for (const q of qs) setByType.set(q.type, (setByType.get(q.type) ?? new Set<string>()).add(q.answer))
  }
  // Each type's most frequent training answer (ties: the alphabetically first).
  const majorityAnswer = new Map([...trainByType].map(([type, m]) => [type, [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0]]))
  const perType: Record<string, { n: number; correct: number; chance: number; majority: number; trained: boolean }> = {}
  const examples: QAReport['examples'] = []
  let correct = 0
  let unseen = 0
  for (const { video, question, probs } of sums.values()) {
    const q = data.questions.get(video)![question]!
    let said: string
    if (choice) {
      said = q.choices![bestAnswer(probs, null)]!
    } else {
      const allowed = q.choices ? q.choices.map((c) => index.get(c)).filter((i): i is number => i !== undefined) : null
      said = data.answers[bestAnswer(probs, allowed && allowed.length > 0 ? allowed : null)] ?? ''
      if (!index.has(q.answer)) unseen++
    }
    const right = said === q.answer
    const seen = trainByType.get(q.type)
    const t = (perType[q.type] ??= { n: 0, correct: 0, chance: 0, majority: 0, trained: seen !== undefined })
    t.n++
    t.correct += right ? 1 : 0
    t.chance += q.choices ? 1 / q.choices.length : seen ? (seen.has(q.answer) ? 1 / seen.size : 0) : index.has(q.answer) ? 1 / setByType.get(q.type)!.size : 0
    t.majority += majorityAnswer.get(q.type) === q.answer ? 1 : 0
    correct += right ? 1 : 0
    if (examples.length < 8) examples.push({ video: data.shards.video(video).id, question: q.question, answer: q.answer, predicted: said })
  }
  const n = sums.size
  return {
    questions: n,
    accuracy: n ? correct / n : 0,
    perType: Object.fromEntries(Object.entries(perType).map(([k, t]) => [k, { questions: t.n, accuracy: t.correct / t.n, chance: t.chance / t.n, majority: t.trained ? t.majority / t.n : null }])),
    unseenAnswers: unseen,
    examples,
  }
}
