/**
 * Checkpoint directories, written atomically: everything goes into `.tmp-step-N/` (model,
 * optimizer, config from the native `save`, then `trainer_state.json`, fsynced), which is then
 * renamed to `step-N/`. A crash mid-write leaves only a `.tmp-*` directory, which is ignored and
 * cleaned up; `latest()` returns the newest complete checkpoint. Keeps the last `keepLast` and the
 * best by a monitored metric.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { VideoBertError } from '../errors.js'
import type { VideoBERT } from '../model.js'
import { TRAINER_STATE_FILE } from '../files.js'
import { faultPoint } from './faults.js'

/** Where a run stands (`trainer_state.json` of every checkpoint): steps done, data position, best value, patience and callback state. */
export interface TrainerState {
  /** Optimizer steps done. */
  step: number
  /** Data position: epoch and batches consumed in it. */
  epoch: number
  batchInEpoch: number
  /** Best monitored value so far and its step. */
  best: { value: number; step: number } | null
  /** Early-stopping patience counter. */
  badEvaluations: number
  /** State saved by callbacks, by name. */
  callbacks: Record<string, unknown>
  /**
   * Rows per micro-batch over all ranks (batchSize × ranks) when the run was saved: the data position
   * counts batches of this size, so a resume at another world size keeps it (absent: batchSize).
   */
  globalBatchSize?: number
}

/** Options of `CheckpointManager`. */
export interface CheckpointOptions {
  /** Keep this many most recent checkpoints. @default 3 */
  keepLast?: number
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** The `step-N/` checkpoint directories of a run under `dir` (see the module notes): atomic saves, pruning, and the latest. */
export class CheckpointManager {
  readonly keepLast: number

  constructor(
    readonly dir: string,
    options: CheckpointOptions = {},
  ) {
    this.keepLast = options.keepLast ?? 3
    try {
      mkdirSync(dir, { recursive: true })
      // Fail early (and clearly) on an unwritable run directory. The probe is this process's own:
      // the ranks of a data-parallel run all open the same directory at once.
      const probe = join(dir, `.write-probe-${process.pid}`)
      writeFileSync(probe, '')
      rmSync(probe)
    } catch (err) {
      throw new VideoBertError('Io', `run directory ${dir} is not writable: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Complete checkpoints, oldest first. */
  list(): { step: number; path: string }[] {
    return readdirSync(this.dir)
      .map((name) => /^step-(\d+)$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null && existsSync(join(this.dir, m[0], TRAINER_STATE_FILE)))
      .map((m) => ({ step: Number(m[1]), path: join(this.dir, m[0]) }))
      .sort((a, b) => a.step - b.step)
  }

  /** The newest complete checkpoint, or null when there is none. */
  latest(): { step: number; path: string } | null {
    return this.list().at(-1) ?? null
  }

  /** The `trainer_state.json` of the checkpoint directory `path`. */
  readState(path: string): TrainerState {
    return JSON.parse(readFileSync(join(path, TRAINER_STATE_FILE), 'utf8')) as TrainerState
  }

  /** Save into `step-N/`; `extraFiles` (name → source path, e.g. the tokenizer) are copied in too. */
  async save(model: VideoBERT, state: TrainerState, extraFiles: Record<string, string> = {}): Promise<string> {
    const final = join(this.dir, `step-${state.step}`)
    const tmp = join(this.dir, `.tmp-step-${state.step}`)
    rmSync(tmp, { recursive: true, force: true })
    try {
      await model.save(tmp)
      for (const [name, src] of Object.entries(extraFiles)) copyFileSync(src, join(tmp, name))
      faultPoint('checkpoint:files-written')
      const statePath = join(tmp, TRAINER_STATE_FILE)
      writeFileSync(statePath, JSON.stringify(state, null, 2))
      faultPoint('checkpoint:state-written')
      for (const f of readdirSync(tmp)) fsyncPath(join(tmp, f))
    } catch (err) {
      // A failed save (a full disk, …) takes back its space; the earlier checkpoints are untouched.
      rmSync(tmp, { recursive: true, force: true })
      if (err instanceof VideoBertError) throw err
      throw new VideoBertError('Io', `saving checkpoint ${final}: ${(err as Error).message}`, { cause: err })
    }
    rmSync(final, { recursive: true, force: true })
    faultPoint('checkpoint:before-rename')
    renameSync(tmp, final)
    faultPoint('checkpoint:after-rename')
    fsyncPath(this.dir)
    this.#prune(state)
    return final
  }

  #prune(state: TrainerState): void {
    const all = this.list()
    const keep = new Set(all.slice(-this.keepLast).map((c) => c.step))
    if (state.best) keep.add(state.best.step)
    for (const c of all) {
      if (keep.has(c.step)) continue
      rmSync(c.path, { recursive: true, force: true })
      faultPoint('checkpoint:pruned-one')
    }
    for (const name of readdirSync(this.dir)) if (name.startsWith('.tmp-step-')) rmSync(join(this.dir, name), { recursive: true, force: true })
  }
}
