/**
 * Caption evaluation. Per attribute (`evaluateCaptions`): a caption names an attribute right when it
 * contains the window's word of that group (e.g. its colour) and no other word of the group; chance
 * is 1 / (words in the group), a captioner that names one word of each group at random. Against the
 * references (`scoreSplitCaptions`): the COCO metrics of each window's caption.
 */
import type { CaptionDataset } from '../data/captions.js'
import type { Split, VideoTextDataset } from '../data/dataset.js'
import { VideoBertError } from '../errors.js'
import { captionVideos, type Caption, type CaptionOptions } from '../inference/caption.js'
import type { InferenceContext } from '../inference/context.js'
import { scoreCaptions, type CaptionScores } from './caption-metrics.js'

/** One attribute group's figures (`evaluateCaptions`): the windows scored, the accuracy of naming the group's word, and chance. */
export interface CaptionMetrics {
  /** Windows whose caption has exactly one word of the group (the ones scored). */
  count: number
  accuracy: number
  chance: number
}

/** What `evaluateCaptions` returns: the figures per attribute group, a few examples, and every caption written. */
export interface CaptionEvaluation {
  perGroup: Record<string, CaptionMetrics>
  /** A few (generated, reference) pairs, in split order. */
  examples: { caption: string; reference: string }[]
  captions: Caption[]
}

const words = (text: string) => text.toLowerCase().split(/[^a-z0-9#]+/).filter(Boolean)

/**
 * Caption a split's captioned windows from the video alone (an empty text) and score, per group of
 * `groups` (e.g. `{ colour: ['red', 'green', …] }`), whether each caption names the window's word of
 * the group (see the module notes).
 */
export async function evaluateCaptions(
  p: InferenceContext,
  data: VideoTextDataset,
  split: Split,
  groups: Record<string, readonly string[]>,
  options: CaptionOptions = {},
): Promise<CaptionEvaluation> {
  const windows = data.windows[split].filter((w) => w.text)
  if (windows.length === 0) throw new VideoBertError('InvalidInput', `caption evaluation: the ${split} split has no captioned windows`)
  const empty = new Uint32Array(0)
  const inputs = windows.map((w) => {
    const b = data.collate([{ w, text: empty, label: 1 }])
    if (!b) throw new VideoBertError('InvalidInput', `caption evaluation: video ${w.video} could not be read`)
    return { features: b.videoFeatures!, mask: b.videoMask!, ...(b.visualWordIds && { words: b.visualWordIds }) }
  })
  const captions = await captionVideos(p, inputs, options)
  const perGroup: Record<string, CaptionMetrics> = {}
  for (const [group, list] of Object.entries(groups)) {
    let count = 0
    let right = 0
    windows.forEach((w, i) => {
      const truth = list.filter((x) => words(w.text).includes(x))
      if (truth.length !== 1) return
      count++
      const named = list.filter((x) => words(captions[i]!.text).includes(x))
      if (named.length === 1 && named[0] === truth[0]) right++
    })
    perGroup[group] = { count, accuracy: count ? right / count : 0, chance: 1 / list.length }
  }
  return { perGroup, examples: windows.slice(0, 8).map((w, i) => ({ caption: captions[i]!.text, reference: w.text })), captions }
}

/** What `scoreSplitCaptions` returns: the windows captioned, the COCO metrics, and a few examples. */
export interface CaptionScoreReport {
  /** Windows captioned (each scored against its own caption). */
  windows: number
  scores: CaptionScores
  /** A few (generated, reference) pairs, in split order. */
  examples: { caption: string; reference: string }[]
}

/**
 * BLEU-4, METEOR, ROUGE-L and CIDEr-D of the captions `p` writes for a split's captioned windows (the video
 * alone, an empty text) against each window's caption.
 */
export async function scoreSplitCaptions(p: InferenceContext, data: CaptionDataset, split: Split, options: CaptionOptions = {}): Promise<CaptionScoreReport> {
  const windows = data.windows[split]
  if (windows.length === 0) throw new VideoBertError('InvalidInput', `caption scores: the ${split} split has no captioned windows`)
  const inputs = windows.map((w) => {
    const b = data.collate([w])
    if (!b) throw new VideoBertError('InvalidInput', `caption scores: video ${w.video} could not be read`)
    return { features: b.videoFeatures!, mask: b.videoMask!, ...(b.visualWordIds && { words: b.visualWordIds }) }
  })
  const captions = await captionVideos(p, inputs, options)
  return {
    windows: windows.length,
    scores: scoreCaptions(captions.map((c) => c.text), windows.map((w) => [w.text])),
    examples: windows.slice(0, 8).map((w, i) => ({ caption: captions[i]!.text, reference: w.text })),
  }
}
