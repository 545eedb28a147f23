/**
 * Data-parallel training across processes (docs/distributed.md): which launcher started this
 * process (`distributedLaunch`), and the group the ranks train in (`startDistributed`), with the
 * few collectives the Trainer needs besides the train step. The collectives are MPI's (Open MPI or
 * MPICH, loaded when asked for); the prebuilt addon needs no MPI until then.
 */
import { VideoBertError } from './errors.js'
import { distributedBarrier, distributedBroadcast, distributedFinish, distributedLaunch as nativeLaunch, guardSync, initDistributed } from './native.js'

/** Every option of distributed training, its default and its check in one place. */
export interface DistributedOptions {
  /**
   * 'mpi' (CPU; launched by mpirun, mpiexec or srun), or 'nccl' (GPUs, in the CUDA build: NCCL
   * reduces the gradients and MPI the rest under mpirun, mpiexec or srun; under torchrun, which
   * starts no MPI, NCCL does it all, its id handed out through torchrun's rendezvous store).
   * @default 'mpi' ('nccl' when a training command's device is CUDA)
   */
  backend?: 'mpi' | 'nccl'
  /** Seconds a collective waits for the other ranks before failing with a `Distributed` error (a rank died or hangs). Must cover rank 0 writing a checkpoint. @default 300 */
  timeoutS?: number
  /** Compare the ranks' parameters every N steps (0 = never). @default 100 */
  checkEvery?: number
  /** The MPI library to load. @default $VIDEOBERT_MPI_LIBRARY, else libmpi.so.40 (Open MPI), libmpich.so.12, libmpi.so.12 */
  mpiLibrary?: string
}

/** The defaults of `DistributedOptions`. */
export const DISTRIBUTED_DEFAULTS = { backend: 'mpi', timeoutS: 300, checkEvery: 100 } as const

/** What a launcher's environment says about this process; null when it is not one of several. */
export function distributedLaunch(): { launcher: string; rank: number; worldSize: number; localRank: number; master?: string } | null {
  return guardSync(() => nativeLaunch())
}

/** This process's place in the group, and the collectives the Trainer uses between steps. */
export interface Distributed {
  readonly rank: number
  readonly worldSize: number
  readonly localRank: number
  readonly backend: string
  readonly launcher: string
  /** The MPI library loaded, and its version line. */
  readonly library: string
  readonly version: string
  readonly checkEvery: number
  /** Whether this is rank 0, the one that writes checkpoints, metrics and progress. */
  readonly isRoot: boolean
  /** Wait for every rank (`what` names the place in a timeout's error). */
  barrier(what: string): void
  /** Rank 0's numbers on every rank. */
  broadcast(values: number[], what: string): number[]
}

let current: Distributed | null = null

/**
 * Join the process's group (every rank calls it; a second call returns the same group). Ends the
 * group when the process exits: finalised after a clean exit (code 0), aborted otherwise — which
 * stops every other rank at once instead of leaving them to time out.
 */
export function startDistributed(options: DistributedOptions = {}): Distributed {
  if (current) return current
  const d = DISTRIBUTED_DEFAULTS
  const checkEvery = options.checkEvery ?? d.checkEvery
  if (!Number.isInteger(checkEvery) || checkEvery < 0) throw new VideoBertError('InvalidConfig', `invalid config field \`checkEvery\`: a whole number of steps >= 0, got ${checkEvery}`)
  const info = guardSync(() => initDistributed({ backend: options.backend ?? d.backend, timeoutS: options.timeoutS ?? d.timeoutS, mpiLibrary: options.mpiLibrary }))
  process.once('exit', (code) => distributedFinish(code === 0))
  current = {
    ...info,
    checkEvery,
    isRoot: info.rank === 0,
    barrier: (what) => guardSync(() => distributedBarrier(what)),
    broadcast: (values, what) => Array.from(guardSync(() => distributedBroadcast(Float64Array.from(values), 0, what))),
  }
  return current
}

/** The `[lo, hi)` items of `n` that rank `rank` of `world` takes: contiguous, sizes differing by at most one, all covered. */
export function partRange(n: number, rank: number, world: number): [number, number] {
  return [Math.floor((n * rank) / world), Math.floor((n * (rank + 1)) / world)]
}

/** A rank's share of the data: rank `rank` of `world`. */
export interface DataPart {
  rank: number
  world: number
}

/**
 * This rank's items of one global batch (`partRange`), all of them without a part; null when the
 * batch has fewer items than ranks (every rank then skips it, so they stay in step).
 */
export function takePart<T>(items: T[], part?: DataPart): T[] | null {
  if (!part || part.world === 1) return items
  if (items.length < part.world) return null
  const [lo, hi] = partRange(items.length, part.rank, part.world)
  return items.slice(lo, hi)
}

/** The error of a rank whose whole share of a batch could not be read (it cannot skip alone: the ranks would fall out of step). */
export function unreadablePart(part: DataPart): VideoBertError {
  return new VideoBertError('InvalidInput', `rank ${part.rank} of ${part.world}: none of its items of a batch could be read (see the skipped items); a data-parallel run cannot skip a whole batch on one rank`)
}

/**
 * The group a training command runs in: `undefined` (the default) joins one when a launcher started
 * this process as one of several and trains alone otherwise; `false` always trains alone; `true` or
 * options require a launch (a `Distributed` error otherwise). On a CUDA `device` the backend
 * defaults to NCCL (the CUDA build's).
 */
export function distributedFor(setting: boolean | DistributedOptions | undefined, device?: string): Distributed | undefined {
  if (setting === false) return undefined
  if (setting === undefined && distributedLaunch() === null) return undefined
  const options = setting === true || setting === undefined ? {} : setting
  // GPUs reduce their gradients through NCCL unless the options say otherwise.
  return startDistributed(device?.startsWith('cuda') && options.backend === undefined ? { ...options, backend: 'nccl' } : options)
}

/** Where a rank computes: `'cuda'` becomes `'cuda:LOCAL_RANK'` in a group (one GPU per process on a node); anything else as given. */
export function deviceOfRank<D extends string>(device: D | undefined, group: Distributed | undefined): D | `cuda:${number}` | undefined {
  return group && device === 'cuda' ? `cuda:${group.localRank}` : device
}

/** This process's rank in the group it joined (0 when it joined none). */
export function startedRank(): number {
  return current?.rank ?? 0
}
