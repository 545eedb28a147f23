/**
 * Fill-in-the-blank: in each window's text, one word of a group (e.g. the colour words) is replaced
 * by `[MASK]` and the model predicts it from the video and the rest of the text. Accuracy is top-1
 * over the whole vocabulary; chance is 1 / (words in the group), the score of a guesser who knows
 * which group the blank belongs to.
 */
import type { Split, VideoTextDataset, Window } from '../data/dataset.js'
import { VideoBertError } from '../errors.js'
import type { VideoBERT } from '../model.js'

/** One word group's figures: the blanks asked, the top-1 accuracy, and chance. */
export interface BlankMetrics {
  /** Blanks asked (windows whose text has exactly one word of the group). */
  count: number
  accuracy: number
  chance: number
}

/** Options of `fillInTheBlank`. */
export interface FillInTheBlankOptions {
  /** Masked texts per native call. @default 128 */
  batchSize?: number
}

/**
 * Fill-in-the-blank accuracy per group of `groups` (e.g. `{ colour: ['red', 'green', …] }`; each word
 * one token of the vocabulary) over a split's windows (see the module notes).
 */
export async function fillInTheBlank(
  model: VideoBERT,
  data: VideoTextDataset,
  split: Split,
  groups: Record<string, readonly string[]>,
  options: FillInTheBlankOptions = {},
): Promise<Record<string, BlankMetrics>> {
  const { maskTokenId, maxTextLen } = model.config
  const result: Record<string, BlankMetrics> = {}
  for (const [group, words] of Object.entries(groups)) {
    const ids = new Map<number, string>()
    for (const word of words) {
      const id = data.tokenizer.tokenToId(word)
      if (id === null) throw new VideoBertError('InvalidInput', `fill-in-the-blank: '${word}' is not a single token of the vocabulary`)
      ids.set(id, word)
    }
    const blanks: { w: Window; text: Uint32Array; label: number; answer: number }[] = []
    for (const w of data.windows[split]) {
      const text = data.tokenizer.encode(w.text, maxTextLen)
      const at = [...text.keys()].filter((i) => ids.has(text[i]!))
      if (at.length !== 1) continue
      const masked = text.slice()
      masked[at[0]!] = maskTokenId
      blanks.push({ w, text: masked, label: 1, answer: text[at[0]!]! })
    }
    let correct = 0
    const batchSize = options.batchSize ?? 128
    for (let start = 0; start < blanks.length; start += batchSize) {
      const items = blanks.slice(start, start + batchSize)
      const batch = data.collate(items)
      if (!batch || batch.batchSize !== items.length) throw new VideoBertError('InvalidInput', 'fill-in-the-blank: some windows could not be read')
      for (const p of await model.predictMasked(batch, { topK: 1 })) {
        if (p.ids[0] === items[p.sample]!.answer) correct++
      }
    }
    result[group] = { count: blanks.length, accuracy: blanks.length ? correct / blanks.length : 0, chance: 1 / words.length }
  }
  return result
}
