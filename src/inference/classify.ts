/** Classifying videos with a fine-tuned checkpoint (`finetuneClassifier` / `videobert finetune`). */
import { VideoBertError } from '../errors.js'
import { encodePromptWith } from './fill-mask.js'
import { videoInput, type Pretrained, type VideoTokens } from './pretrained.js'

export interface ClassPrediction {
  /** The most probable class. */
  label: string
  /** Every class with its probability, most probable first. */
  probabilities: { label: string; probability: number }[]
}

/** Class probabilities of each video (its first `maxSegments` segments, with the classifier's prompt if it has one). */
export async function classifyVideos(p: Pretrained, videos: VideoTokens[]): Promise<ClassPrediction[]> {
  const { maxSegments: T, maxTextLen: L, padTokenId, numLabels } = p.model.config
  if (!p.classes || numLabels === 0) throw new VideoBertError('Checkpoint', 'the checkpoint is not a classifier (no classification head / classes.json); fine-tune one with `videobert finetune`')
  if (videos.length === 0) return []
  const inputs = videos.map((v) => videoInput(p, v))
  const per = inputs[0]!.features.length
  const B = videos.length
  const videoFeatures = new Float32Array(B * per)
  const videoMask = new Uint8Array(B * T)
  inputs.forEach((x, b) => {
    videoFeatures.set(x.features, b * per)
    videoMask.set(x.mask, b * T)
  })
  const textIds = new Uint32Array(B * L).fill(padTokenId)
  if (p.prompt) {
    const ids = encodePromptWith(p.tokenizer, p.model.config, p.prompt)
    for (let b = 0; b < B; b++) textIds.set(ids, b * L)
  }
  const probs = await p.model.classify({ batchSize: B, textIds, videoFeatures, videoMask })
  const classes = p.classes
  return videos.map((_, b) => {
    const ranked = classes
      .map((label, c) => ({ label, probability: probs[b * numLabels + c]! }))
      .sort((x, y) => y.probability - x.probability)
    return { label: ranked[0]!.label, probabilities: ranked }
  })
}
