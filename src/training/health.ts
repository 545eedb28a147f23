/**
 * The training health report: the Trainer watches each loss and says — on the progress line, in
 * `metrics.jsonl` (`split: "health"`) and in `FitResult.health` — when a loss has not moved off its
 * starting value, when the matching loss still sits at ln 2 (chance: the `[CLS]` cannot yet tell
 * matching pairs from mismatched ones), or when one loss makes nearly all of the gradient (the others
 * barely train), and what to try — and, when a stuck loss starts to move later, that it recovered
 * (the matching loss often sits at ln 2 for the first ~1000 steps on a small set, then falls). It
 * only reads: no update, no random draw, so a run with it is the same run.
 */
import type { Batch } from '../batch.js'
import type { StepResult, VideoBERT } from '../model.js'

/** The losses the health report watches: the three pre-training losses, and the classification and captioning losses. */
export type LossName = 'mlm' | 'video' | 'vtm' | 'classify' | 'caption'

/** One entry of the health report: at which step, what kind, about which loss, and what to try. */
export interface HealthWarning {
  step: number
  /**
   * `stuck`: the loss is where it started; `chance`: matching at ln 2; `dominant`: one loss is ≥
   * `dominantShare` of the gradient; `recovered`: what an earlier warning said holds no more.
   */
  kind: 'stuck' | 'chance' | 'dominant' | 'recovered'
  loss: LossName
  message: string
}

/** When the health report checks and what it calls stuck or dominant. */
export interface HealthOptions {
  /** Check every N steps. @default max(100, steps / 20) */
  checkEvery?: number
  /** No verdict before this step (losses often sit still at first). @default 300 */
  after?: number
  /** A loss within this fraction of its starting value has not moved. @default 0.03 */
  stuckTolerance?: number
  /** Share of the gradient norm (of the sum over the losses) above which one loss dominates. @default 0.9 */
  dominantShare?: number
}

const FIELD: Record<LossName, keyof StepResult> = { mlm: 'mlmLoss', video: 'videoLoss', vtm: 'vtmLoss', classify: 'classifyLoss', caption: 'captionLoss' }
type PretrainLoss = Exclude<LossName, 'classify' | 'caption'>
const WEIGHT: Record<PretrainLoss, string> = { mlm: 'mlmWeight', video: 'videoWeight', vtm: 'vtmWeight' }
const LN2 = Math.log(2)
/** Steps averaged for the starting value, and for the current one. */
const START = 20
const RECENT = 50

/**
 * The health report of one run (see the module notes): `observe` each step's losses, and on `due`
 * steps `check` for new warnings; `warnings` holds all so far.
 */
export class HealthMonitor {
  readonly warnings: HealthWarning[] = []
  readonly #o: Required<HealthOptions>
  readonly #losses: LossName[]
  readonly #start = new Map<LossName, number[]>()
  readonly #recent = new Map<LossName, number[]>()
  readonly #said = new Set<string>()
  /** `kind:loss` of the warnings not yet recovered from. */
  readonly #open = new Set<string>()

  /** `head`: what the model trains — the pre-training losses, or its classification or captioning loss. */
  constructor(steps: number, head: 'pretrain' | 'classify' | 'caption', options: HealthOptions = {}) {
    this.#o = {
      checkEvery: options.checkEvery ?? Math.max(100, Math.round(steps / 20)),
      after: options.after ?? 300,
      stuckTolerance: options.stuckTolerance ?? 0.03,
      dominantShare: options.dominantShare ?? 0.9,
    }
    this.#losses = head === 'pretrain' ? ['mlm', 'video', 'vtm'] : [head]
  }

  /** Record a step's losses. */
  observe(m: StepResult): void {
    for (const l of this.#losses) {
      const start = this.#start.get(l) ?? []
      if (start.length < START) start.push(m[FIELD[l]])
      this.#start.set(l, start)
      const recent = this.#recent.get(l) ?? []
      recent.push(m[FIELD[l]])
      if (recent.length > RECENT) recent.shift()
      this.#recent.set(l, recent)
    }
  }

  /** What is wrong now: `loss kind` of each warning not recovered from (the progress line shows these). */
  get active(): string[] {
    return [...this.#open].map((k) => k.split(':').reverse().join(' '))
  }

  /** Whether `step` is a check step. */
  due(step: number): boolean {
    return step >= this.#o.after && step % this.#o.checkEvery === 0
  }

  /** The new warnings at `step` (each kind and loss is reported once); `batch` is the step's batch. */
  async check(step: number, model: VideoBERT, batch: Batch): Promise<HealthWarning[]> {
    const fresh: HealthWarning[] = []
    // Each warning is said once, and stays open until it is recovered from.
    const say = (kind: Exclude<HealthWarning['kind'], 'recovered'>, loss: LossName, message: string) => {
      if (this.#said.has(`${kind}:${loss}`)) return
      this.#said.add(`${kind}:${loss}`)
      this.#open.add(`${kind}:${loss}`)
      fresh.push({ step, kind, loss, message })
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
    for (const l of this.#losses) {
      const start = mean(this.#start.get(l) ?? [])
      const now = mean(this.#recent.get(l) ?? [])
      const atChance = l === 'vtm' && Math.abs(now - LN2) < 0.02
      const stuck = !atChance && start > 0 && Math.abs(now - start) / start < this.#o.stuckTolerance
      if (atChance) {
        say('chance', l, `the matching loss is still at ln 2 = ${LN2.toFixed(3)} (chance) after ${step} steps: the [CLS] does not yet tell matching pairs from mismatched ones (on small sets it often sits there for ~1000 steps, then falls); if it stays, try a higher learning rate, a larger vtmWeight, or more steps`)
      } else if (stuck) {
        const hint =
          l === 'classify' ? 'try a higher learning rate or more labelled videos' : l === 'caption' ? 'try a higher learning rate or more captioned videos' : `try a higher learning rate, or a larger ${WEIGHT[l as PretrainLoss]}`
        say('stuck', l, `the ${l} loss has not moved off its starting value (${start.toFixed(3)} → ${now.toFixed(3)}) in ${step} steps: ${hint}`)
      }
      for (const kind of ['chance', 'stuck'] as const) {
        if (this.#open.has(`${kind}:${l}`) && !(kind === 'chance' ? atChance : stuck)) {
          this.#open.delete(`${kind}:${l}`)
          fresh.push({ step, kind: 'recovered', loss: l, message: `the ${l} loss moves now (${now.toFixed(3)}; it started at ${start.toFixed(3)})` })
        }
      }
    }
    if (this.#losses.length > 1) {
      const g = await model.lossGradNorms(batch)
      const total = g.mlm + g.video + g.vtm
      for (const l of ['mlm', 'video', 'vtm'] as const) {
        const share = total > 0 ? g[l] / total : 0
        if (share < this.#o.dominantShare && this.#open.delete(`dominant:${l}`)) {
          fresh.push({ step, kind: 'recovered', loss: l, message: `the ${l} loss makes ${(100 * share).toFixed(0)} % of the gradient now` })
        }
        if (share >= this.#o.dominantShare) {
          const others = (['mlm', 'video', 'vtm'] as const).filter((x) => x !== l).map((x) => `${x} ${g[x].toExponential(1)}`).join(', ')
          say('dominant', l, `the ${l} loss makes ${(100 * share).toFixed(0)} % of the gradient (norm ${g[l].toExponential(1)}; ${others}): the other losses barely train; weigh it down (${WEIGHT[l]}) or the others up`)
        }
      }
    }
    this.warnings.push(...fresh)
    return fresh
  }
}
