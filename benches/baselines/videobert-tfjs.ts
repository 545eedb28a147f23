/**
 * The same VideoBERT train step in pure JavaScript: TensorFlow.js on its `cpu` backend (plain JS
 * kernels; tfjs-node would be native code). Same architecture as the native model
 * (`crates/videobert-core/src/model/videobert.rs`): embeddings (words, text and temporal and spatial
 * positions, types, segment and region projections, the learned mask embedding), pre-LayerNorm
 * blocks of spatial attention inside each segment, joint attention over the sequence and a GELU
 * FFN on every token, the tied MLM decoder, the l2 video head and the matching head; the step is
 * forward, backward (tfjs autodiff), global-norm clipping and Adam with decoupled weight decay.
 * Masking is a fixed pattern of the same size as the native step's (15 % of text tokens, at least
 * two; 15 % of segments): the work per step is what is compared, not the numbers.
 */
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

import type * as TF from '@tensorflow/tfjs'
import type { Batch, VideoBertConfig } from '../../src/index.js'

/** tfjs lives in this folder's own package (`npm --prefix benches/baselines ci`), not the library's. */
const packageJson = fileURLToPath(new URL('../../../benches/baselines/package.json', import.meta.url))
let tf: typeof TF

type Params = Record<string, TF.Variable>

function init(cfg: VideoBertConfig): Params {
  const { hiddenSize: h, intermediateSize: ffn, featureDim: f, numRegions: r, maxSegments: t, maxTextLen: l, vocabSize: v } = cfg
  const p: Params = {}
  const w = (name: string, shape: number[]) => (p[name] = tf.variable(tf.randomNormal(shape, 0, cfg.initializerRange), true, name))
  const z = (name: string, shape: number[]) => (p[name] = tf.variable(tf.zeros(shape), true, name))
  const o = (name: string, shape: number[]) => (p[name] = tf.variable(tf.ones(shape), true, name))
  const dense = (name: string, inDim: number, outDim: number) => (w(`${name}.weight`, [outDim, inDim]), z(`${name}.bias`, [outDim]))
  const norm = (name: string) => (o(`${name}.weight`, [h]), z(`${name}.bias`, [h]))
  w('word', [v, h])
  w('textPosition', [l + 2, h])
  w('temporal', [t + 1, h])
  w('spatial', [r + 1, h])
  w('type', [2, h])
  w('maskEmbedding', [h])
  dense('segmentProjection', f, h)
  dense('regionProjection', f, h)
  norm('embeddingNorm')
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    for (const a of ['spatial', 'joint']) {
      norm(`${i}.${a}Norm`)
      for (const x of ['query', 'key', 'value', 'output']) dense(`${i}.${a}.${x}`, h, h)
    }
    norm(`${i}.ffnNorm`)
    dense(`${i}.ffn.intermediate`, h, ffn)
    dense(`${i}.ffn.output`, ffn, h)
  }
  norm('finalNorm')
  dense('mlm.transform', h, h)
  norm('mlm.norm')
  z('mlm.bias', [v])
  dense('video.transform', h, h)
  norm('video.norm')
  dense('video.output', h, f)
  dense('vtm.pooler', h, h)
  dense('vtm.classifier', h, 2)
  return p
}

/** The masked positions of one step: flat rows into `[B·S]` and their targets. */
interface Masking {
  textIds: TF.Tensor2D
  mlmRows: TF.Tensor1D
  mlmLabels: TF.Tensor1D
  videoMasked: TF.Tensor2D
  videoRows: TF.Tensor1D
  videoSegments: TF.Tensor1D
  attend: TF.Tensor2D
  vtmLabels: TF.Tensor1D
}

function masking(cfg: VideoBertConfig, batch: Batch): Masking {
  const { maxTextLen: l, maxSegments: t } = cfg
  const b = batch.batchSize
  const s = l + t + 3
  const ids = Int32Array.from(batch.textIds)
  const mlmRows: number[] = []
  const mlmLabels: number[] = []
  for (let i = 0; i < b; i++) {
    const len = ids.subarray(i * l, (i + 1) * l).findIndex((x) => x === cfg.padTokenId)
    const n = len < 0 ? l : len
    const k = Math.min(n, Math.max(cfg.textMaskMin, Math.round(n * cfg.textMaskProb)))
    for (let j = 0; j < k; j++) {
      const pos = (j * 7 + i) % n
      if (mlmRows.includes(i * s + 1 + pos)) continue
      mlmRows.push(i * s + 1 + pos)
      mlmLabels.push(ids[i * l + pos]!)
      ids[i * l + pos] = cfg.maskTokenId
    }
  }
  const videoMasked = new Float32Array(b * t)
  const videoRows: number[] = []
  const videoSegments: number[] = []
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t; j++) {
      if (batch.videoMask![i * t + j] && (i * t + j) % 7 === 0) {
        videoMasked[i * t + j] = 1
        videoRows.push(i * s + l + 2 + j)
        videoSegments.push(i * t + j)
      }
    }
  }
  const attend = new Float32Array(b * s)
  for (let i = 0; i < b; i++) {
    attend[i * s] = 1
    for (let j = 0; j < l; j++) attend[i * s + 1 + j] = batch.textIds[i * l + j] === cfg.padTokenId ? 0 : 1
    attend[i * s + l + 1] = 1
    for (let j = 0; j < t; j++) attend[i * s + l + 2 + j] = batch.videoMask![i * t + j]!
    attend[i * s + s - 1] = 1
  }
  return {
    textIds: tf.tensor2d(ids, [b, l], 'int32'),
    mlmRows: tf.tensor1d(mlmRows, 'int32'),
    mlmLabels: tf.tensor1d(mlmLabels, 'int32'),
    videoMasked: tf.tensor2d(videoMasked, [b, t]),
    videoRows: tf.tensor1d(videoRows, 'int32'),
    videoSegments: tf.tensor1d(videoSegments, 'int32'),
    attend: tf.tensor2d(attend, [b, s]),
    vtmLabels: tf.tensor1d(Int32Array.from(batch.vtmLabels!), 'int32'),
  }
}

function loss(cfg: VideoBertConfig, p: Params, batch: Batch, m: Masking): TF.Scalar {
  const { hiddenSize: h, maxTextLen: l, maxSegments: t, numRegions: r, featureDim: f, numAttentionHeads: heads } = cfg
  const b = batch.batchSize
  const s = l + t + 3
  const eps = cfg.layerNormEps
  const dense = (x: TF.Tensor, name: string): TF.Tensor => {
    const shape = x.shape
    const out = tf.add(tf.matMul(tf.reshape(x, [-1, shape[shape.length - 1]!]), p[`${name}.weight`]!, false, true), p[`${name}.bias`]!)
    return tf.reshape(out, [...shape.slice(0, -1), out.shape[1]!])
  }
  const norm = (x: TF.Tensor, name: string): TF.Tensor => {
    const { mean, variance } = tf.moments(x, -1, true)
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), p[`${name}.weight`]!), p[`${name}.bias`]!)
  }
  const gelu = (x: TF.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))
  const attention = (x: TF.Tensor, name: string, mask: TF.Tensor | null): TF.Tensor => {
    const [n, sl] = x.shape as [number, number, number]
    const hd = h / heads
    const split = (y: TF.Tensor) => tf.transpose(tf.reshape(y, [n, sl, heads, hd]), [0, 2, 1, 3])
    const q = split(dense(x, `${name}.query`))
    const k = split(dense(x, `${name}.key`))
    const v = split(dense(x, `${name}.value`))
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd))
    if (mask) scores = tf.add(scores, tf.reshape(mask, [n, 1, 1, sl]))
    const ctx = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [n, sl, h])
    return dense(ctx, `${name}.output`)
  }
  const row = (table: string, i: number) => tf.reshape(tf.slice(p[table]!, [i, 0], [1, h]), [h])

  // Embeddings.
  const cls = tf.fill([b, 1], cfg.clsTokenId, 'int32')
  const sep = tf.fill([b, 1], cfg.sepTokenId, 'int32')
  const textIds = tf.concat([cls, m.textIds, sep], 1)
  let text = tf.reshape(tf.gather(p.word!, tf.reshape(textIds, [-1])), [b, l + 2, h])
  text = tf.add(tf.add(text, p.textPosition!), row('type', 0))
  const feats = tf.tensor4d(batch.videoFeatures!, [b, t, r, f])
  const time = tf.slice(p.temporal!, [0, 0], [t, h])
  const videoType = row('type', 1)
  const masked = tf.reshape(m.videoMasked, [b, t, 1])
  const keep = tf.sub(1, masked)
  let segments = tf.add(tf.add(tf.add(dense(tf.mean(feats, 2), 'segmentProjection'), time), videoType), row('spatial', 0))
  const maskTok = tf.add(tf.add(p.maskEmbedding!, time), videoType)
  segments = tf.add(tf.mul(segments, keep), tf.mul(masked, maskTok))
  const pos = tf.add(tf.reshape(time, [t, 1, h]), tf.reshape(tf.slice(p.spatial!, [1, 0], [r, h]), [1, r, h]))
  let regions = tf.add(tf.add(dense(feats, 'regionProjection'), pos), videoType)
  const masked4 = tf.reshape(masked, [b, t, 1, 1])
  regions = norm(tf.add(tf.mul(regions, tf.sub(1, masked4)), tf.mul(masked4, tf.add(tf.add(pos, p.maskEmbedding!), videoType))), 'embeddingNorm')
  const tail = tf.tile(tf.reshape(tf.add(tf.add(row('word', cfg.sepTokenId), row('temporal', t)), videoType), [1, 1, h]), [b, 1, 1])
  let seq = norm(tf.concat([text, segments, tail], 1), 'embeddingNorm')
  const mask = tf.mul(tf.sub(m.attend, 1), 1e4)

  // Blocks.
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    const segs = tf.slice(seq, [0, l + 2, 0], [b, t, h])
    let tokens = tf.reshape(tf.concat([tf.reshape(segs, [b, t, 1, h]), regions], 2), [b * t, r + 1, h])
    tokens = tf.reshape(tf.add(tokens, attention(norm(tokens, `${i}.spatialNorm`), `${i}.spatial`, null)), [b, t, r + 1, h])
    regions = tf.slice(tokens, [0, 0, 1, 0], [b, t, r, h])
    seq = tf.concat([tf.slice(seq, [0, 0, 0], [b, l + 2, h]), tf.reshape(tf.slice(tokens, [0, 0, 0, 0], [b, t, 1, h]), [b, t, h]), tf.slice(seq, [0, l + 2 + t, 0], [b, 1, h])], 1)
    seq = tf.add(seq, attention(norm(seq, `${i}.jointNorm`), `${i}.joint`, mask))
    const ffn = (x: TF.Tensor) => tf.add(x, dense(gelu(dense(norm(x, `${i}.ffnNorm`), `${i}.ffn.intermediate`)), `${i}.ffn.output`))
    seq = ffn(seq)
    regions = ffn(regions)
  }
  const hidden = tf.reshape(norm(seq, 'finalNorm'), [b * s, h])

  // Heads.
  const transform = (x: TF.Tensor, name: string) => norm(gelu(dense(x, `${name}.transform`)), `${name}.norm`)
  const ce = (logits: TF.Tensor, labels: TF.Tensor1D, classes: number) => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits)
  const mlmLogits = tf.add(tf.matMul(transform(tf.gather(hidden, m.mlmRows), 'mlm'), p.word!, false, true), p['mlm.bias']!)
  const mlm = ce(mlmLogits, m.mlmLabels, cfg.vocabSize)
  const pred = dense(transform(tf.gather(hidden, m.videoRows), 'video'), 'video.output')
  const target = tf.gather(tf.reshape(tf.mean(feats, 2), [b * t, f]), m.videoSegments)
  const video = tf.div(tf.sum(tf.square(tf.sub(pred, target))), m.videoRows.shape[0] * f)
  const clsRows = tf.gather(hidden, tf.range(0, b * s, s, 'int32'))
  const vtm = ce(dense(tf.tanh(dense(clsRows, 'vtm.pooler')), 'vtm.classifier'), m.vtmLabels, 2)
  return tf.addN([mlm, video, vtm]) as TF.Scalar
}

/** A tfjs copy of the model and its optimizer; `step(batch)` is one train step. */
export function tfjsModel(cfg: VideoBertConfig, lr = 1e-4): { step: (batch: Batch) => number; backend: string } {
  tf = createRequire(packageJson)('@tensorflow/tfjs') as typeof TF
  void tf.setBackend('cpu')
  const params = init(cfg)
  const optimizer = tf.train.adam(lr, 0.9, 0.999, 1e-8)
  const names = Object.keys(params)
  return {
    backend: tf.getBackend(),
    step(batch: Batch): number {
      return tf.tidy(() => {
        const m = masking(cfg, batch)
        const { value, grads } = tf.variableGrads(() => loss(cfg, params, batch, m))
        const norm = Math.sqrt(names.reduce((acc, n) => acc + tf.sum(tf.square(grads[n]!)).dataSync()[0]!, 0))
        const scale = norm > 1 ? 1 / (norm + 1e-6) : 1
        optimizer.applyGradients(Object.fromEntries(names.map((n) => [n, tf.mul(grads[n]!, scale)])))
        for (const n of names) if (!n.endsWith('bias') && !n.toLowerCase().includes('norm')) params[n]!.assign(tf.mul(params[n]!, 1 - lr * 0.01))
        return value.dataSync()[0]!
      })
    },
  }
}

/** Median ms of attention forward + backward (Q/K/V/output projections, as in the model) on x [n, s, h]. */
export function tfjsAttention(n: number, s: number, h: number, heads: number, runs = 5): number {
  tf = createRequire(packageJson)('@tensorflow/tfjs') as typeof TF
  void tf.setBackend('cpu')
  const hd = h / heads
  const weights = [0, 1, 2, 3].map(() => [tf.variable(tf.randomNormal([h, h], 0, 0.05), true), tf.variable(tf.zeros([h]), true)] as const)
  const x = tf.variable(tf.randomNormal([n, s, h]), true)
  const probe = tf.randomNormal([n, s, h])
  const dense = (t: TF.Tensor, i: number) => tf.reshape(tf.add(tf.matMul(tf.reshape(t, [n * s, h]), weights[i]![0], false, true), weights[i]![1]), [n, s, h])
  const split = (t: TF.Tensor) => tf.transpose(tf.reshape(t, [n, s, heads, hd]), [0, 2, 1, 3])
  const f = () => {
    const scores = tf.mul(tf.matMul(split(dense(x, 0)), split(dense(x, 1)), false, true), 1 / Math.sqrt(hd))
    const ctx = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), split(dense(x, 2))), [0, 2, 1, 3]), [n, s, h])
    return tf.sum(tf.mul(dense(ctx, 3), probe)) as TF.Scalar
  }
  const times: number[] = []
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now()
    tf.tidy(() => {
      const { grads } = tf.variableGrads(f)
      for (const g of Object.values(grads)) g.dataSync()
    })
    if (i >= 1) times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}
