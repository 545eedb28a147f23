/**
 * The `Batch` that crosses into native code, and its shape checks. Layouts are row-major; sizes come
 * from the model config: L = maxTextLen, T = maxSegments, R = numRegions, F = featureDim.
 */
import type { VideoBertConfig } from './config.js'
import { VideoBertError } from './errors.js'

/**
 * B samples as the native model reads them: typed arrays, row-major, shaped by the model config
 * (each field's shape below). `checkBatch` checks one against a config.
 */
export interface Batch {
  /** B, the number of samples. */
  batchSize: number
  /** `[B, L]` caption token ids, without [CLS]/[SEP] (the model adds them). */
  textIds: Uint32Array
  /** `[B, L]` 1 = token, 0 = padding. @default textIds != padTokenId */
  textMask?: Uint8Array
  /** `[B, T, R, F]` region features (`[B, T, F]` when R = 0). Needed unless videoInput = 'visual_words' and R = 0. */
  videoFeatures?: Float32Array
  /** `[B, T]` visual-word ids; needed when videoInput = 'visual_words'. */
  visualWordIds?: Uint32Array
  /** `[B, T]` 1 = segment, 0 = padding. @default all 1 */
  videoMask?: Uint8Array
  /** `[B]` video-text matching labels: 1 = the caption belongs to the video, 0 = a negative. @default all 1 */
  vtmLabels?: Uint8Array
  /**
   * `[B]` class ids < `numLabels` for a model with a classification head. A batch with labels trains
   * (and evaluates) the classification head on the unmasked inputs instead of the pre-training losses.
   */
  labels?: Uint32Array
  /**
   * `[B, L]` reference captions for a model with a caption decoder (`decoderLayers > 0`): each row's
   * word pieces, then `padTokenId` (no `[CLS]`/`[SEP]`, at least one piece). A batch with them trains
   * (and evaluates) the decoder with teacher forcing; the encoder reads `textIds` (usually empty).
   */
  captionIds?: Uint32Array
  /**
   * Multiple choice: the batch is `B / numChoices` questions of `numChoices` consecutive rows — the
   * video with the question and one candidate answer as the text — and `labels` (`[B / numChoices]`)
   * the index of the right row of each. A model without a task head then trains (and evaluates) the
   * cross-entropy of a softmax over each question's matching scores.
   */
  numChoices?: number
}

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
