/**
 * Zero-shot fill-mask conditioned on a video (the VideoBERT paper's "now let me show you how to
 * [MASK] the [MASK]"): every `[MASK]` in the prompt is predicted by the masked-language-model head
 * from the video and the rest of the prompt. Optionally restricted to a list of candidate words. A
 * video longer than one window is read window by window and the distributions are averaged,
 * weighted by segment count (as `classifyVideos` does).
 */
import { VideoBertError } from '../errors.js'
import { encodePromptWith, MASK } from '../data/prompt.js'
import type { MaskPrediction } from '../model.js'
import { videoWindows, windowBatch, type InferenceContext, type VideoTokens } from './context.js'

export { MASK, encodePromptWith }

/** What the options of `fillMask` are when left out. */
export const FILL_MASK_DEFAULTS = { topK: 5 }

/** Options of `fillMask`: predictions per blank, and an optional list of candidate words. */
export interface FillMaskOptions {
  /** Predictions per blank. @default 5 */
  topK?: number
  /** Only these words compete (each must be one token of the vocabulary); probabilities stay the model's. */
  candidates?: string[]
}

/** One blank's predictions (`fillMask`): the word pieces with their probabilities, most probable first. */
export interface FillMaskBlank {
  /** Index of the blank among the prompt's `[MASK]`s. */
  blank: number
  predictions: { token: string; id: number; probability: number }[]
}

/** The prompt's word-piece ids with `maskTokenId` at each `[MASK]`. */
export function encodePrompt(p: InferenceContext, prompt: string): Uint32Array {
  return encodePromptWith(p.tokenizer, p.model.config, prompt)
}

/**
 * The blanks' predictions of each window (sorted by position): the model's top `topK`, or — with
 * `candidates` — exactly the candidates' probabilities (`maskLogProbs`: only those numbers come
 * back from the native side), most probable first.
 */
async function predict(p: InferenceContext, video: VideoTokens, windows: ReturnType<typeof videoWindows>, ids: Uint32Array, topK: number, candidates: number[] | null): Promise<MaskPrediction[][]> {
  const out: MaskPrediction[][] = []
  const positions = [...ids.keys()].filter((i) => ids[i] === p.model.config.maskTokenId)
  for (const w of windows) {
    const batch = windowBatch(p, [video], [w], ids)
    if (!candidates) {
      const predictions = await p.model.predictMasked(batch, { topK })
      out.push(predictions.slice().sort((a, b) => a.position - b.position))
      continue
    }
    const k = candidates.length
    const asked = new Uint32Array(positions.length * k)
    positions.forEach((_, blank) => asked.set(candidates, blank * k))
    const logProbs = await p.model.maskLogProbs(batch, asked, k)
    out.push(
      positions.map((position, blank) => {
        const probs = candidates.map((_, j) => Math.exp(logProbs[blank * k + j]!))
        const order = [...candidates.keys()].sort((a, b) => probs[b]! - probs[a]! || candidates[a]! - candidates[b]!)
        return { sample: 0, position, ids: Uint32Array.from(order, (j) => candidates[j]!), probs: Float32Array.from(order, (j) => probs[j]!) }
      }),
    )
  }
  return out
}

/**
 * Predict every `[MASK]` of `prompt` from `video` and the rest of the prompt (see the module notes):
 * per blank, in prompt order, the `topK` most probable word pieces (only `candidates`, when given).
 */
export async function fillMask(p: InferenceContext, video: VideoTokens, prompt: string, options: FillMaskOptions = {}): Promise<FillMaskBlank[]> {
  const { vocabSize } = p.model.config
  const topK = options.topK ?? FILL_MASK_DEFAULTS.topK
  if (!Number.isInteger(topK) || topK <= 0) throw new VideoBertError('InvalidInput', `invalid input \`topK\`: must be a positive integer, got ${topK}`)
  let allowed: Set<number> | null = null
  if (options.candidates) {
    if (options.candidates.length === 0) throw new VideoBertError('InvalidInput', 'invalid input `candidates`: the list is empty')
    allowed = new Set(
      options.candidates.map((word) => {
        const id = p.tokenizer.tokenToId(word.toLowerCase()) ?? p.tokenizer.tokenToId(word)
        if (id === null) throw new VideoBertError('InvalidInput', `invalid input \`candidates\`: '${word}' is not a single token of the vocabulary`)
        return id
      }),
    )
  }
  const ids = encodePrompt(p, prompt)
  const windows = videoWindows(p, [video])
  // One window: the model's own top-k. Several: every window's whole distribution, averaged.
  const perWindow = await predict(p, video, windows, ids, windows.length > 1 ? vocabSize : topK, allowed && [...allowed])
  const blanks = perWindow[0]!.map((first, blank) => {
    if (windows.length === 1) return first
    const mean = new Float64Array(vocabSize)
    windows.forEach((w, k) => {
      const pred = perWindow[k]![blank]!
      for (let i = 0; i < pred.ids.length; i++) mean[pred.ids[i]!]! += (pred.probs[i]! * w.count) / video.numSegments
    })
    const order = Array.from(mean.keys()).sort((a, b) => mean[b]! - mean[a]! || a - b)
    return { ...first, ids: order, probs: order.map((i) => mean[i]!) }
  })
  return blanks.map((pred, blank) => {
    const out: FillMaskBlank['predictions'] = []
    for (let i = 0; i < pred.ids.length && out.length < topK; i++) {
      const id = pred.ids[i]!
      if (allowed && !allowed.has(id)) continue
      out.push({ id, token: p.tokenizer.decode([id]), probability: pred.probs[i]! })
    }
    return { blank, predictions: out }
  })
}
