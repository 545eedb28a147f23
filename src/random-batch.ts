/**
 * Seeded synthetic batches with a hidden structure, for examples, smoke tests and benchmarks.
 *
 * Each sample belongs to one of `topics` latent topics. A topic owns a set of caption words and a
 * prototype feature vector per region; captions draw from their topic's words, features are the
 * prototypes plus noise (unit-normalised). So all three objectives have something to learn: masked
 * words are predictable from the video and the rest of the caption, masked segments from the other
 * segments, and `negatives` of the pairs get a caption from another topic (vtmLabel 0).
 */
import type { Batch } from './batch.js'
import type { VideoBertConfig } from './config.js'
import { rng } from './random.js'

/** What `randomBatch` draws: the batch size, the seeds, and the topic structure behind the samples. */
export interface RandomBatchOptions {
  /** @default 8 */
  batchSize?: number
  /** Seed of this batch's samples. @default 0 */
  seed?: number
  /** Number of latent topics. @default 8 */
  topics?: number
  /** Seed of the topics (keep it fixed across batches of one dataset). @default 12345 */
  topicSeed?: number
  /** Fraction of mismatched (negative) video-text pairs. @default 0.5 */
  negatives?: number
  /** Feature noise relative to the prototypes. @default 0.5 */
  noise?: number
}

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
}

/**
 * A synthetic batch for `config` (see the module notes): captions of ceil(L / 2) to L words, ceil(T / 2)
 * to T valid segments of unit-normalised region features, `vtmLabels` 0 on the negatives, and
 * visual-word ids when `videoInput` is `'visual_words'`. The same config and options give the same batch.
 */
export function randomBatch(config: VideoBertConfig, options: RandomBatchOptions = {}): Batch {
  const { batchSize: b = 8, seed = 0, topics = 8, topicSeed = 12345, negatives = 0.5, noise = 0.5 } = options
  const { maxTextLen: l, maxSegments: t, numRegions, featureDim: f, vocabSize } = config
  const r = Math.max(numRegions, 1)
  const firstWord = Math.max(config.padTokenId, config.clsTokenId, config.sepTokenId, config.maskTokenId) + 1
  const wordsPerTopic = Math.max(1, Math.min(24, Math.floor((vocabSize - firstWord) / topics)))

  const topicRng = rng(topicSeed)
  const prototypes = Array.from({ length: topics }, () => Array.from({ length: r * f }, () => gaussian(topicRng)))
  const next = rng(seed * 2654435761 + 1)

  const textIds = new Uint32Array(b * l).fill(config.padTokenId)
  const videoFeatures = new Float32Array(b * t * r * f)
  const videoMask = new Uint8Array(b * t)
  const vtmLabels = new Uint8Array(b)
  const visualWordIds = config.videoInput === 'visual_words' ? new Uint32Array(b * t) : undefined
  for (let i = 0; i < b; i++) {
    const topic = Math.floor(next() * topics)
    const negative = next() < negatives && topics > 1
    const captionTopic = negative ? (topic + 1 + Math.floor(next() * (topics - 1))) % topics : topic
    vtmLabels[i] = negative ? 0 : 1
    const len = Math.ceil(l / 2) + Math.floor(next() * (l - Math.ceil(l / 2) + 1))
    for (let j = 0; j < len; j++) {
      textIds[i * l + j] = firstWord + captionTopic * wordsPerTopic + Math.floor(next() * wordsPerTopic)
      if (textIds[i * l + j]! >= vocabSize) textIds[i * l + j] = firstWord + Math.floor(next() * (vocabSize - firstWord))
    }
    const segs = Math.ceil(t / 2) + Math.floor(next() * (t - Math.ceil(t / 2) + 1))
    const proto = prototypes[topic]!
    for (let s = 0; s < t; s++) {
      videoMask[i * t + s] = s < segs ? 1 : 0
      if (visualWordIds) visualWordIds[i * t + s] = (topic * 131 + s) % config.numVisualWords
      for (let g = 0; g < r; g++) {
        const base = ((i * t + s) * r + g) * f
        let norm = 0
        for (let k = 0; k < f; k++) {
          const v = proto[g * f + k]! + noise * gaussian(next)
          videoFeatures[base + k] = v
          norm += v * v
        }
        norm = Math.sqrt(norm) || 1
        for (let k = 0; k < f; k++) videoFeatures[base + k]! /= norm
      }
    }
  }
  return { batchSize: b, textIds, videoFeatures, visualWordIds, videoMask, vtmLabels }
}
