/**
 * Fine-tuning for supervised captioning (the design note §6.2): a caption decoder on the
 * checkpoint's encoder, trained end to end with teacher forcing and label smoothing on the videos'
 * captions (`CaptionDataset`). The final checkpoint holds the decoder (`decoder.*`, `decoderLayers`
 * in its config); `captionVideos` / `videobert caption` write with it.
 */
import { CaptionDataset } from '../data/captions.js'
import { scoreSplitCaptions, type CaptionScoreReport } from '../eval/captioning.js'
import type { CaptionOptions } from '../inference/caption.js'
import { VideoBERT } from '../model.js'
import type { TokenShards } from '../shards.js'
import { createOptions, FINETUNE_DEFAULTS, finetuneInputs, trainTask, withoutTaskHead, type HeadOptions } from './finetune.js'
import type { FitResult } from './trainer.js'

/** What the captioning options are when left out (the CLI's help shows these). */
export const CAPTION_FINETUNE_DEFAULTS = { decoderLayers: 2, labelSmoothing: 0.1, lr: 3e-4, steps: 1000 }

export interface FinetuneCaptionOptions extends HeadOptions {
  /** Token shards of the videos; their manifest records carry `captions`. */
  shards: string | TokenShards
  /** Fraction of the videos held out to validate on (loss, and caption scores). @default 0.1 */
  validationFraction?: number
  /** Layers of the caption decoder. @default 2 */
  decoderLayers?: number
  /** Label smoothing ε of the captioning loss. @default 0.1 */
  labelSmoothing?: number
  /** How the validation captions are decoded. @default greedy */
  generate?: CaptionOptions
}

/** What `finetuneCaptioner` returns: the model, the final checkpoint, the fit, the video counts and the validation caption scores. */
export interface FinetuneCaptionResult {
  model: VideoBERT
  /** Directory of the final checkpoint. */
  checkpoint: string
  fit: FitResult
  videos: { train: number; validation: number }
  /** BLEU-4, METEOR, ROUGE-L, CIDEr-D of the validation videos' generated captions (null when there are none). */
  validation: CaptionScoreReport | null
}

/** Fine-tune a caption decoder on a pre-trained checkpoint (see the module notes), then `scoreSplitCaptions` on the validation videos. */
export async function finetuneCaptioner(o: FinetuneCaptionOptions): Promise<FinetuneCaptionResult> {
  const c = CAPTION_FINETUNE_DEFAULTS
  const { shards, tokenizer, config, featureNorm } = await finetuneInputs(o.checkpoint, o.shards)
  const seed = o.seed ?? FINETUNE_DEFAULTS.seed
  const data = new CaptionDataset(shards, config, tokenizer, {
    validationFraction: o.validationFraction ?? FINETUNE_DEFAULTS.validationFraction,
    seed,
    featureNorm,
  })
  const head = { decoderLayers: o.decoderLayers ?? c.decoderLayers, labelSmoothing: o.labelSmoothing ?? c.labelSmoothing }
  const create = createOptions(o)
  const model = o.fromScratch
    ? await VideoBERT.create({ ...withoutTaskHead(config), ...head }, create)
    : await VideoBERT.forCaptioning(o.checkpoint, head, create)
  const { fit, checkpoint } = await trainTask({ ...o, lr: o.lr ?? c.lr, steps: o.steps ?? c.steps }, data, model, 'captionLoss')
  const context = { model: fit.model, tokenizer, featureNorm: data.featureNorm, videoTokenizer: null, classes: null, prompt: null }
  const validation = data.windows.validation.length > 0 ? await scoreSplitCaptions(context, data, 'validation', o.generate) : null
  return {
    model: fit.model,
    checkpoint,
    fit,
    videos: { train: data.videos('train').length, validation: data.videos('validation').length },
    validation,
  }
}
