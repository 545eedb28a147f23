/**
 * The demo's captions scored with the COCO metrics (`videobert demo --downstream`): the model's
 * zero-shot captions of the test clips (masked decoding) and a retrieval baseline — each test clip
 * given the caption of the training clip whose video embedding is nearest (cosine of the pooled
 * encoder outputs) — both against the test clip's reference caption.
 */
import { scoreCaptions, type CaptionScores } from '../eval/caption-metrics.js'
import { shardVideo, type InferenceContext } from '../inference/context.js'
import { embedVideos } from '../inference/embed.js'
import type { TokenShards } from '../shards.js'

export interface DemoCaptionScores {
  /** Test clips scored (one reference caption each). */
  clips: number
  zeroShot: CaptionScores
  nearestTrainingCaption: CaptionScores
}

const unit = (v: Float32Array): Float32Array => {
  const n = Math.hypot(...v) || 1
  return v.map((x) => x / n)
}

export async function demoCaptionScores(p: InferenceContext, train: TokenShards, test: TokenShards, zeroShot: string[]): Promise<DemoCaptionScores> {
  const caption = (s: TokenShards, i: number) => s.video(i).captions.map((c) => c.text).join(' ')
  const references = Array.from({ length: test.length }, (_, i) => [caption(test, i)])
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
