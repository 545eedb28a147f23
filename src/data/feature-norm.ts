/**
 * Per-dimension standardisation of video features, `(x − mean) / std`, fitted on the training
 * videos. Descriptors such as the builtin one are L2-normalised vectors whose dimensions differ in
 * scale by orders of magnitude (a background's value bins ≈ 0.7, a small object's hue bins ≈ 0.01);
 * standardised, every dimension reaches the model with unit scale, which is what lets it learn
 * colour and shape in minutes instead of hours. The statistics travel with every checkpoint as
 * `feature_norm.json` so that inference sees features exactly as training did.
 */
import { readFileSync, writeFileSync } from 'node:fs'

import { VideoBertError } from '../errors.js'
import type { TokenShards } from '../shards.js'

export { FEATURE_NORM_FILE } from '../files.js'

/** Per-dimension statistics of the features: `[F]` mean and `[F]` standard deviation (each > 0). */
export interface FeatureNorm {
  mean: Float32Array
  std: Float32Array
}

/** Dimensions that never vary in the training data keep std 1 (they pass through, centred). */
const MIN_STD = 1e-6

/**
 * Mean and standard deviation of each feature dimension over every region (or segment, when the
 * model has no regions) of the given videos. A video whose features cannot be read goes to
 * `onUnreadable` (default: rethrow).
 */
export function fitFeatureNorm(
  shards: TokenShards,
  videos: number[],
  useRegions: boolean,
  onUnreadable: (video: number, err: unknown) => void = (_, err) => {
    throw err
  },
): FeatureNorm {
  const F = shards.params.featureDim
  const sum = new Float64Array(F)
  const sq = new Float64Array(F)
  let n = 0
  for (const v of videos) {
    let x: Float32Array
    try {
      x = useRegions ? shards.regions(v) : shards.pooled(v)
    } catch (err) {
      onUnreadable(v, err)
      continue
    }
    for (let i = 0; i < x.length; i += F) {
      for (let f = 0; f < F; f++) {
        const value = x[i + f]!
        sum[f] = sum[f]! + value
        sq[f] = sq[f]! + value * value
      }
      n++
    }
  }
  if (n === 0) throw new VideoBertError('InvalidInput', 'feature normalisation: the training videos have no segments')
  const mean = new Float32Array(F)
  const std = new Float32Array(F)
  for (let f = 0; f < F; f++) {
    const m = sum[f]! / n
    const s = Math.sqrt(Math.max(0, sq[f]! / n - m * m))
    mean[f] = m
    std[f] = s > MIN_STD ? s : 1
  }
  return { mean, std }
}

/** Standardise `[…, F]` features in place. */
export function applyFeatureNorm(x: Float32Array, norm: FeatureNorm): void {
  const F = norm.mean.length
  if (x.length % F !== 0) throw new VideoBertError('InvalidInput', `feature normalisation: ${x.length} values are not a multiple of featureDim ${F}`)
  for (let i = 0; i < x.length; i += F) {
    for (let f = 0; f < F; f++) x[i + f] = (x[i + f]! - norm.mean[f]!) / norm.std[f]!
  }
}

/** Write the statistics to `path` as JSON, `{ mean: number[F], std: number[F] }` (a checkpoint's `feature_norm.json`). */
export function saveFeatureNorm(path: string, norm: FeatureNorm): void {
  writeFileSync(path, `${JSON.stringify({ mean: Array.from(norm.mean), std: Array.from(norm.std) })}\n`)
}

/** Read statistics written by `saveFeatureNorm`; a `Checkpoint` error when the file is unreadable or malformed. */
export function loadFeatureNorm(path: string): FeatureNorm {
  let raw: { mean?: unknown; std?: unknown }
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as typeof raw
  } catch (err) {
    throw new VideoBertError('Checkpoint', `${path}: ${(err as Error).message}`, { cause: err })
  }
  const ok = (a: unknown): a is number[] => Array.isArray(a) && a.every((v) => typeof v === 'number' && Number.isFinite(v))
  if (!ok(raw.mean) || !ok(raw.std) || raw.mean.length !== raw.std.length || raw.std.some((s) => s <= 0)) {
    throw new VideoBertError('Checkpoint', `${path}: expected { mean: number[F], std: number[F] } with std > 0`)
  }
  return { mean: Float32Array.from(raw.mean), std: Float32Array.from(raw.std) }
}
