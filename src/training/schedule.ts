/** Learning-rate schedules: linear warm-up, then constant, linear decay or cosine decay to `minLr`. */
export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number
  /** Warm-up steps (linear from 0). @default 0 */
  warmupSteps?: number
  /** Shape after warm-up. @default 'cosine' */
  decay?: 'cosine' | 'linear' | 'constant'
  /** Floor of the decay, as a fraction of `lr`. @default 0 */
  minLrRatio?: number
}

/**
 * The learning rate of 0-based `step` out of `totalSteps`: `lr × (step + 1) / warmupSteps` during
 * warm-up, then `lr` (constant) or a linear or cosine decay from `lr` towards `minLrRatio × lr`,
 * reached at `totalSteps`.
 */
export function learningRate(step: number, totalSteps: number, o: ScheduleOptions): number {
  const { lr, warmupSteps = 0, decay = 'cosine', minLrRatio = 0 } = o
  if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps
  if (decay === 'constant' || totalSteps <= warmupSteps) return lr
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps))
  const shape = decay === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress))
  return lr * (minLrRatio + (1 - minLrRatio) * shape)
}

/** How a fine-tuning run shares the learning rate among the layers, and when the encoder starts to learn. */
export interface LayerRateOptions {
  /** Layer-wise decay in (0, 1] (`StepOptions.layerDecay`). @default 1 */
  layerDecay?: number
  /** Multiplier in [0, 1] on the encoder's rate once it learns (`StepOptions.encoderLrScale`). @default 1 */
  encoderLrScale?: number
  /** Steps at the start during which only the task head learns (the encoder frozen). @default 0 */
  freezeSteps?: number
}

/** The per-step layer rates of 0-based `step`: the encoder frozen (scale 0) before `freezeSteps`, then `encoderLrScale`. */
export function layerRatesAt(step: number, o: LayerRateOptions): { layerDecay: number; encoderLrScale: number } {
  const { layerDecay = 1, encoderLrScale = 1, freezeSteps = 0 } = o
  return { layerDecay, encoderLrScale: step < freezeSteps ? 0 : encoderLrScale }
}
