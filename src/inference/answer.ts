/**
 * Answering questions about videos with a fine-tuned question-answering checkpoint (`finetuneQA` /
 * `videobert finetune --task qa`). Open answers: every window of the video is read with the
 * question, the answer probabilities are averaged over the windows (weighted by their segments),
 * and — with `choices` — restricted to those answers and renormalised. Multiple choice (`--format
 * multiple-choice`): every window is read with "question candidate" for each of the question's
 * choices, the matching head's log-odds averaged over the windows the same way, and a softmax over
 * the choices gives their probabilities.
 */
import { encodeChoices, encodeQuestion } from '../data/questions.js'
import { VideoBertError } from '../errors.js'
import { windowAveragedProbs } from './classify.js'
import { videoWindows, windowBatch, type InferenceContext, type VideoTokens } from './context.js'

/** A question to `answerQuestions`, optionally with candidate answers. */
export interface QuestionInput {
  question: string
  /** Candidate answers: the answer is the most probable of them. @default every answer the model knows */
  choices?: string[]
}

/** The answer to one question (`answerQuestions`): the question, the most probable answer, and the answers considered. */
export interface Answer {
  question: string
  answer: string
  /** The answers considered, most probable first (renormalised over `choices` when given). */
  probabilities: { answer: string; probability: number }[]
}

/** One answer per question, about one video. */
export async function answerQuestions(p: InferenceContext, video: VideoTokens, questions: QuestionInput[], options: { batchSize?: number } = {}): Promise<Answer[]> {
  if (p.task === 'multiple-choice') return answerChoices(p, video, questions, options.batchSize)
  const answers = p.classes
  if (p.task !== 'qa' || !answers) {
    throw new VideoBertError('Checkpoint', 'the checkpoint is not a question-answering model (its classes.json has no task "qa" or "multiple-choice"); fine-tune one with `videobert finetune --task qa`')
  }
  const index = new Map(answers.map((a, i) => [a, i]))
  const A = answers.length
  const out: Answer[] = []
  for (const [qi, q] of questions.entries()) {
    const allowed = q.choices?.map((c) => {
      const i = index.get(c.trim())
      if (i === undefined) throw new VideoBertError('InvalidInput', `question ${qi}: the choice '${c}' is not an answer the model knows (${A} answers, e.g. ${answers.slice(0, 5).join(', ')})`)
      return i
    }) ?? answers.map((_, i) => i)
    if (allowed.length === 0) throw new VideoBertError('InvalidInput', `question ${qi}: no choices`)
    const ids = encodeQuestion(p.tokenizer, p.model.config, q.question, `question ${qi}`)
    const [sums] = await windowAveragedProbs(p, [video], ids, options.batchSize)
    const total = allowed.reduce((s, a) => s + sums![a]!, 0)
    const probabilities = allowed.map((a) => ({ answer: answers[a]!, probability: total > 0 ? sums![a]! / total : 1 / allowed.length })).sort((x, y) => y.probability - x.probability)
    out.push({ question: q.question, answer: probabilities[0]!.answer, probabilities })
  }
  return out
}

/** Multiple choice: each choice's matching log-odds averaged over the video's windows, softmax over the choices. */
async function answerChoices(p: InferenceContext, video: VideoTokens, questions: QuestionInput[], batchSize = 64): Promise<Answer[]> {
  const windows = videoWindows(p, [video])
  const out: Answer[] = []
  for (const [qi, q] of questions.entries()) {
    const choices = q.choices?.map((c) => c.trim()).filter(Boolean) ?? []
    if (choices.length < 2) throw new VideoBertError('InvalidInput', `question ${qi}: a multiple-choice model picks among the question's choices; give at least 2`)
    const texts = encodeChoices(p.tokenizer, p.model.config, q.question, choices, `question ${qi}`)
    const scores = new Float64Array(choices.length)
    for (const [c, text] of texts.entries()) {
      for (let start = 0; start < windows.length; start += batchSize) {
        const chunk = windows.slice(start, start + batchSize)
        const logits = await p.model.matchLogits(windowBatch(p, [video], chunk, text))
        chunk.forEach((w, b) => (scores[c]! += (logits[b]! * w.count) / video.numSegments))
      }
    }
    const max = Math.max(...scores)
    const total = scores.reduce((a, x) => a + Math.exp(x - max), 0)
    const probabilities = choices.map((answer, c) => ({ answer, probability: Math.exp(scores[c]! - max) / total })).sort((x, y) => y.probability - x.probability)
    out.push({ question: q.question, answer: probabilities[0]!.answer, probabilities })
  }
  return out
}
