/**
 * Prompts: text with `[MASK]` blanks for the model to fill from the video (the VideoBERT paper's
 * "now let me show you how to [MASK] the [MASK]") — read by fill-mask, by prompted classifiers and
 * their labelled datasets.
 */
import type { VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import type { TextTokenizer } from '../vocab.js'

/** The blank of a prompt: each one becomes the model's `maskTokenId`. */
export const MASK = '[MASK]'

/** The prompt's word-piece ids with `maskTokenId` at each `[MASK]`. */
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
