/**
 * Zero-shot fill-mask conditioned on a video (the VideoBERT paper's "now let me show you how to
 * [MASK] the [MASK]"): every `[MASK]` in the prompt is predicted by the masked-language-model head
 * from the video and the rest of the prompt. Optionally restricted to a list of candidate words.
 */
import type { VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import type { TextTokenizer } from '../shards.js'
import { videoInput, type Pretrained, type VideoTokens } from './pretrained.js'

export const MASK = '[MASK]'

export interface FillMaskOptions {
  /** Predictions per blank. @default 5 */
  topK?: number
  /** Only these words compete (each must be one token of the vocabulary); probabilities stay the model's. */
  candidates?: string[]
}

export interface FillMaskBlank {
  /** Index of the blank among the prompt's `[MASK]`s. */
  blank: number
  predictions: { token: string; id: number; probability: number }[]
}

/** The prompt's word-piece ids with `maskTokenId` at each `[MASK]`. */
export function encodePrompt(p: Pretrained, prompt: string): Uint32Array {
  return encodePromptWith(p.tokenizer, p.model.config, prompt)
}

/** `encodePrompt` with a tokenizer and a config. */
export function encodePromptWith(tokenizer: TextTokenizer, config: Pick<VideoBertConfig, 'maskTokenId' | 'maxTextLen'>, prompt: string): Uint32Array {
  const { maskTokenId, maxTextLen } = config
  const pieces = prompt.split(MASK)
  if (pieces.length < 2) throw new VideoBertError('InvalidInput', `the prompt has no ${MASK}: '${prompt}'`)
  const ids: number[] = []
  pieces.forEach((piece, i) => {
    if (i > 0) ids.push(maskTokenId)
    if (piece.trim()) ids.push(...tokenizer.encode(piece, 4096))
  })
  if (ids.length > maxTextLen) {
    throw new VideoBertError('InvalidInput', `the prompt is ${ids.length} word pieces long; the model reads at most maxTextLen = ${maxTextLen}`)
  }
  return Uint32Array.from(ids)
}

export async function fillMask(p: Pretrained, video: VideoTokens, prompt: string, options: FillMaskOptions = {}): Promise<FillMaskBlank[]> {
  const { maxTextLen, padTokenId, vocabSize } = p.model.config
  const topK = options.topK ?? 5
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
  const textIds = new Uint32Array(maxTextLen).fill(padTokenId)
  textIds.set(ids)
  const { features, mask } = videoInput(p, video)
  const predictions = await p.model.predictMasked(
    { batchSize: 1, textIds, videoFeatures: features, videoMask: mask },
    { topK: allowed ? vocabSize : topK },
  )
  const ordered = predictions.slice().sort((a, b) => a.position - b.position)
  return ordered.map((pred, blank) => {
    const out: FillMaskBlank['predictions'] = []
    for (let i = 0; i < pred.ids.length && out.length < topK; i++) {
      const id = pred.ids[i]!
      if (allowed && !allowed.has(id)) continue
      out.push({ id, token: p.tokenizer.decode([id]), probability: pred.probs[i]! })
    }
    return { blank, predictions: out }
  })
}
