/**
 * The `Batch` that crosses into native code, and its shape checks. Layouts are row-major; sizes come
 * from the model config: L = maxTextLen, T = maxSegments, R = numRegions, F = featureDim.
 */
import type { VideoBertConfig } from './config.js'
import type { NativeBatch } from './native.js'
import { VideoBertError } from './errors.js'

/** One micro-batch (the generated `NativeBatch`: its fields and shapes are documented there, from the binding). */
export type Batch = NativeBatch

type ArrayCtor = Uint32ArrayConstructor | Uint8ArrayConstructor | Float32ArrayConstructor

function check(
  batch: Batch,
  field: keyof Batch,
  ctor: ArrayCtor,
  dims: [string, number][],
  required: boolean,
): void {
  const value = batch[field]
  if (value === undefined || value === null) {
    if (required) throw new VideoBertError('InvalidInput', `invalid input \`${field}\`: required by this config`)
    return
  }
  if (!(value instanceof ctor)) {
    throw new VideoBertError('InvalidInput', `invalid input \`${field}\`: expected a ${ctor.name}`)
  }
  const want = dims.reduce((n, [, d]) => n * d, 1)
  if (value.length !== want) {
    const shape = dims.map(([k, d]) => `${k}=${d}`).join(', ')
    throw new VideoBertError('InvalidInput', `invalid input \`${field}\`: expected ${want} elements ([${shape}]), got ${value.length}`)
  }
}

/** Throws `VideoBertError('InvalidInput')` naming the field and the expected length. */
export function checkBatch(batch: Batch, config: VideoBertConfig): void {
  if (batch === null || typeof batch !== 'object') {
    throw new VideoBertError('InvalidInput', 'invalid input `batch`: expected an object')
  }
  const b = batch.batchSize
  if (!Number.isInteger(b) || b <= 0) {
    throw new VideoBertError('InvalidInput', `invalid input \`batchSize\`: must be a positive integer, got ${String(b)}`)
  }
  const { maxTextLen: l, maxSegments: t, numRegions: r, featureDim: f } = config
  const B: [string, number] = ['batchSize', b]
  check(batch, 'textIds', Uint32Array, [B, ['maxTextLen', l]], true)
  check(batch, 'textMask', Uint8Array, [B, ['maxTextLen', l]], false)
  const featureDims: [string, number][] =
    r > 0 ? [B, ['maxSegments', t], ['numRegions', r], ['featureDim', f]] : [B, ['maxSegments', t], ['featureDim', f]]
  check(batch, 'videoFeatures', Float32Array, featureDims, config.videoInput === 'features' || r > 0)
  check(batch, 'visualWordIds', Uint32Array, [B, ['maxSegments', t]], config.videoInput === 'visual_words')
  check(batch, 'videoMask', Uint8Array, [B, ['maxSegments', t]], false)
  check(batch, 'vtmLabels', Uint8Array, [B], false)
  const k = batch.numChoices
  if (k !== undefined && (!Number.isInteger(k) || k < 2 || b % k !== 0)) {
    throw new VideoBertError('InvalidInput', `invalid input \`numChoices\`: an integer >= 2 that divides batchSize (${b}), got ${String(k)}`)
  }
  check(batch, 'labels', Uint32Array, k === undefined ? [B] : [['batchSize / numChoices', b / k]], false)
  check(batch, 'captionIds', Uint32Array, [B, ['maxTextLen', l]], false)
}
