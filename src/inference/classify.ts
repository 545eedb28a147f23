/** Classifying videos with a fine-tuned checkpoint (`finetuneClassifier` / `videobert finetune`). */
import { VideoBertError } from '../errors.js'
import { encodePromptWith } from '../data/prompt.js'
import { videoWindows, windowBatch, type InferenceContext, type VideoTokens } from './context.js'

/** One video's classification (`classifyVideos`): the most probable class and every class's probability. */
export interface ClassPrediction {
  /** The most probable class. */
  label: string
  /** Every class with its probability, most probable first. */
  probabilities: { label: string; probability: number }[]
}

/**
 * Class probabilities of each video: every window of `maxSegments` segments is classified (with the
 * classifier's prompt, if it has one) and the probabilities are averaged, weighted by segment count.
 */
export async function classifyVideos(p: InferenceContext, videos: VideoTokens[], options: { batchSize?: number } = {}): Promise<ClassPrediction[]> {
  if (!p.classes || p.model.config.numLabels === 0) throw new VideoBertError('Checkpoint', 'the checkpoint is not a classifier (no classification head / classes.json); fine-tune one with `videobert finetune`')
  if (p.task === 'qa') throw new VideoBertError('Checkpoint', 'the checkpoint answers questions (task qa), it does not classify videos: use `answer` / `answerQuestions`')
  const prompt = p.prompt ? encodePromptWith(p.tokenizer, p.model.config, p.prompt) : undefined
  const sums = await windowAveragedProbs(p, videos, prompt, options.batchSize)
  const classes = p.classes
  return sums.map((s) => {
    const ranked = classes.map((label, c) => ({ label, probability: s[c]! })).sort((x, y) => y.probability - x.probability)
    return { label: ranked[0]!.label, probabilities: ranked }
  })
}

/**
 * The classification head's probabilities per video `[V][numLabels]`: every window read with
 * `text` (default none), averaged over the video's windows weighted by their segment counts.
 */
export async function windowAveragedProbs(p: InferenceContext, videos: VideoTokens[], text?: Uint32Array, batchSize = 64): Promise<Float64Array[]> {
  const C = p.model.config.numLabels
  const windows = videoWindows(p, videos)
  const sums = videos.map(() => new Float64Array(C))
  for (let start = 0; start < windows.length; start += batchSize) {
    const chunk = windows.slice(start, start + batchSize)
    const probs = await p.model.classify(windowBatch(p, videos, chunk, text))
    chunk.forEach((w, b) => {
      const weight = w.count / videos[w.video]!.numSegments
      for (let c = 0; c < C; c++) sums[w.video]![c]! += probs[b * C + c]! * weight
    })
  }
  return sums
}
