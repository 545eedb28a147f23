/**
 * A corpus tokenized in parts on a cluster: each task of a Slurm array or a Kubernetes Indexed Job
 * runs `videobert tokenize --shard i/n` (part i of n: the chunks c with c % n == i), into one shared
 * directory or each into its own; `checkShardSet` then confirms that every chunk of the manifest is
 * there, and `mergeShardSets` gathers part directories into one (docs/distributed.md).
 */
import { VideoBertError } from './errors.js'
import { checkShardSet as nativeCheck, guard, mergeShardSets as nativeMerge } from './native.js'

/** What `checkShardSet` / `mergeShardSets` found in a shard directory. */
export interface ShardSetStatus {
  dir: string
  /** Videos of the whole manifest (null: a set made before the count was recorded, so missing chunks at the end cannot be told). */
  manifestVideos: number | null
  /** Chunks the manifest makes (`manifestVideos / videosPerShard`, rounded up), or null as above. */
  chunksExpected: number | null
  /** Complete chunks present, ascending. */
  chunksPresent: number[]
  /** Chunks of the manifest not here, ascending; with `--shard i/n`, chunk c is made by part c mod n. */
  chunksMissing: number[]
  /** Videos tokenized in the chunks present. */
  videos: number
  /** Videos that failed in the chunks present (listed in the directory's failures.jsonl). */
  failed: number
  /** Every chunk of the manifest is here. */
  complete: boolean
}

const status = (s: Awaited<ReturnType<typeof nativeCheck>>): ShardSetStatus => ({ ...s, manifestVideos: s.manifestVideos ?? null, chunksExpected: s.chunksExpected ?? null })

/**
 * Check a shard directory: every chunk the manifest makes present and made with the parameters of
 * its `index.json`. Rejects with `InvalidInput` for a directory that is not a shard set, or holds a
 * chunk of another run.
 */
export async function checkShardSet(dir: string): Promise<ShardSetStatus> {
  return status(await guard(() => nativeCheck(dir)))
}

/**
 * Copy the shards of the part directories `parts` into `out` (tensors first, each chunk's index
 * last, atomically: an interrupted merge can be run again), then check it. The parts must be one
 * manifest tokenized with one set of parameters; a chunk found twice must be the same bytes.
 */
export async function mergeShardSets(parts: string[], out: string): Promise<ShardSetStatus> {
  return status(await guard(() => nativeMerge(parts, out)))
}

/** This task's part of an array job, and the variables it was read from. */
export interface ArrayJobPart {
  /** 0-based part index. */
  part: number
  /** Parts in all. */
  parts: number
  /** Where they came from, e.g. `SLURM_ARRAY_TASK_ID=3 of SLURM_ARRAY_TASK_COUNT=16`. */
  source: string
}

/**
 * The part of an array job this process is, from the scheduler's variables — or null outside one:
 * - Slurm (`sbatch --array=0-15`): part = `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, of
 *   `SLURM_ARRAY_TASK_COUNT` (an array with a step or a list of ids is refused: give `--shard i/n`);
 * - a Kubernetes Indexed Job: part = `JOB_COMPLETION_INDEX`, of `count` (the Job's `completions`,
 *   which Kubernetes does not put in the environment).
 * `count`, when given, must agree with Slurm's. Inconsistent variables are an `InvalidConfig` error.
 */
export function arrayJobPart(env: NodeJS.ProcessEnv = process.env, count?: number): ArrayJobPart | null {
  const bad = (message: string) => new VideoBertError('InvalidConfig', `array job: ${message}`)
  const int = (name: string): number | undefined => {
    const text = env[name]
    if (text === undefined || text === '') return undefined
    const n = Number(text)
    if (!Number.isInteger(n) || n < 0) throw bad(`${name}=${text} is not a whole number`)
    return n
  }
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw bad(`the count must be a whole number ≥ 1, got ${count}`)
  const checked = (part: number, parts: number, source: string): ArrayJobPart => {
    if (part >= parts) throw bad(`${source} gives part ${part} of ${parts}: give --shard i/n`)
    return { part, parts, source }
  }
  const slurmId = int('SLURM_ARRAY_TASK_ID')
  if (slurmId !== undefined) {
    const slurmCount = int('SLURM_ARRAY_TASK_COUNT')
    const parts = count ?? slurmCount
    if (parts === undefined) throw bad('SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: give --shard i/n')
    if (slurmCount !== undefined && slurmCount !== parts) throw bad(`the count ${parts} differs from SLURM_ARRAY_TASK_COUNT=${slurmCount}`)
    const step = int('SLURM_ARRAY_TASK_STEP') ?? 1
    if (step !== 1) throw bad(`an array with step ${step} (--array=a-b:${step}) does not number its tasks 0…n−1: give --shard i/n`)
    const min = int('SLURM_ARRAY_TASK_MIN') ?? 0
    if (slurmId < min) throw bad(`SLURM_ARRAY_TASK_ID=${slurmId} is below SLURM_ARRAY_TASK_MIN=${min}`)
    return checked(slurmId - min, parts, `SLURM_ARRAY_TASK_ID=${slurmId}${min ? ` − SLURM_ARRAY_TASK_MIN=${min}` : ''} of ${count === undefined ? 'SLURM_ARRAY_TASK_COUNT=' : ''}${parts}`)
  }
  const index = int('JOB_COMPLETION_INDEX')
  if (index !== undefined) {
    if (count === undefined) throw bad(`JOB_COMPLETION_INDEX=${index} is set (a Kubernetes Indexed Job): give the Job's completions with --shard-count N`)
    return checked(index, count, `JOB_COMPLETION_INDEX=${index} of ${count}`)
  }
  if (count !== undefined) throw bad('--shard-count is given but no array-job variable is set (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX)')
  return null
}
