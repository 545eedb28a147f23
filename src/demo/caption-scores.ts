/**
 * The demo's captions scored with the COCO metrics (`videobert demo --downstream`), each test clip's
 * caption against its reference: the pre-trained model's zero-shot captions (masked decoding), a
 * retrieval baseline — each test clip given the caption of the training clip whose video embedding
 * is nearest (cosine of the pooled encoder outputs) — and the supervised caption decoder fine-tuned
 * on the training clips' captions from the checkpoint (greedy and beam search) and, with the same
 * data, steps and schedule, from random initialisation.
 */
import { join } from 'node:path'

import { scoreCaptions, type CaptionScores } from '../eval/caption-metrics.js'
import { CAPTION_DEFAULTS, captionVideos, type CaptionOptions } from '../inference/caption.js'
import { shardVideo, videoInput, type InferenceContext } from '../inference/context.js'
import { embedVideos } from '../inference/embed.js'
import type { Device } from '../model.js'
import type { TokenShards } from '../shards.js'
import { CAPTION_FINETUNE_DEFAULTS, finetuneCaptioner } from '../training/finetune-caption.js'

export interface DemoCaptionScores {
  /** Test clips scored (one reference caption each). */
  clips: number
  zeroShot: CaptionScores
  nearestTrainingCaption: CaptionScores
}

/** The fine-tuned caption decoder (`finetuneCaptioner`, validation fraction 0) on the test clips. */
export interface DemoFineTunedCaptions {
  settings: { steps: number; lr: number; batchSize: number; decoderLayers: number; labelSmoothing: number; beamSize: number; seed: number }
  pretrained: { greedy: CaptionScores; beam: CaptionScores }
  scratch: { greedy: CaptionScores; beam: CaptionScores }
  /** The first test clips: reference and the fine-tuned decoder's greedy caption. */
  examples: { reference: string; fineTuned: string }[]
}

export interface DemoCaptionOptions {
  /** The pre-trained checkpoint directory. */
  checkpoint: string
  /** Where the fine-tuning runs go. */
  out: string
  /** @default CAPTION_FINETUNE_DEFAULTS.steps */
  steps?: number
  threads?: number
  device?: Device
  log?: (line: string) => void
  signal?: AbortSignal
}

const unit = (v: Float32Array): Float32Array => {
  const n = Math.hypot(...v) || 1
  return v.map((x) => x / n)
}

const caption = (s: TokenShards, i: number) => s.video(i).captions.map((c) => c.text).join(' ')
const referencesOf = (test: TokenShards) => Array.from({ length: test.length }, (_, i) => [caption(test, i)])

/** The zero-shot captions and the nearest-training-caption baseline, scored. */
export async function demoCaptionScores(p: InferenceContext, train: TokenShards, test: TokenShards, zeroShot: string[]): Promise<DemoCaptionScores> {
  const references = referencesOf(test)
  const all = (s: TokenShards) => Array.from({ length: s.length }, (_, i) => shardVideo(s, i))
  const trainEmb = (await embedVideos(p, all(train))).map((e) => unit(e.pooled))
  const testEmb = (await embedVideos(p, all(test))).map((e) => unit(e.pooled))
  const nearest = testEmb.map((q) => {
    let best = 0
    let bestSim = -Infinity
    trainEmb.forEach((t, j) => {
      let sim = 0
      for (let k = 0; k < q.length; k++) sim += q[k]! * t[k]!
      if (sim > bestSim) [best, bestSim] = [j, sim]
    })
    return caption(train, best)
  })
  return { clips: test.length, zeroShot: scoreCaptions(zeroShot, references), nearestTrainingCaption: scoreCaptions(nearest, references) }
}

/** A caption decoder fine-tuned on the training clips, from the checkpoint and from scratch, scored on the test clips (greedy and beam). */
export async function demoFineTunedCaptions(p: InferenceContext, train: TokenShards, test: TokenShards, o: DemoCaptionOptions): Promise<DemoFineTunedCaptions> {
  const references = referencesOf(test)
  const c = CAPTION_FINETUNE_DEFAULTS
  const settings = { steps: o.steps ?? c.steps, lr: c.lr, batchSize: 16, decoderLayers: c.decoderLayers, labelSmoothing: c.labelSmoothing, beamSize: CAPTION_DEFAULTS.beamSize, seed: 0 }
  const arm = async (fromScratch: boolean) => {
    const r = await finetuneCaptioner({
      checkpoint: o.checkpoint,
      shards: train,
      validationFraction: 0,
      out: join(o.out, fromScratch ? 'scratch' : 'pretrained'),
      steps: settings.steps,
      lr: settings.lr,
      batchSize: settings.batchSize,
      seed: settings.seed,
      fromScratch,
      numThreads: o.threads,
      device: o.device,
      progress: false,
      signal: o.signal,
    })
    const context = { ...p, model: r.model }
    const inputs = Array.from({ length: test.length }, (_, i) => videoInput(context, shardVideo(test, i)))
    const write = async (options: CaptionOptions) => (await captionVideos(context, inputs, options)).map((x) => x.text)
    const greedy = await write({ strategy: 'greedy' })
    const beam = await write({ strategy: 'beam', beamSize: settings.beamSize })
    const scores = { greedy: scoreCaptions(greedy, references), beam: scoreCaptions(beam, references) }
    o.log?.(`  captions, ${fromScratch ? 'from scratch' : 'pre-trained '}: greedy BLEU-4 ${scores.greedy.bleu4.toFixed(3)} CIDEr-D ${scores.greedy.ciderD.toFixed(3)}, beam BLEU-4 ${scores.beam.bleu4.toFixed(3)} CIDEr-D ${scores.beam.ciderD.toFixed(3)}`)
    return { scores, greedy }
  }
  const pretrained = await arm(false)
  const scratch = await arm(true)
  return {
    settings,
    pretrained: pretrained.scores,
    scratch: scratch.scores,
    examples: references.slice(0, 6).map(([reference], i) => ({ reference: reference!, fineTuned: pretrained.greedy[i]! })),
  }
}
