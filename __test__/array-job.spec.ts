/**
 * A corpus tokenized in parts, as the tasks of a Slurm array or a Kubernetes Indexed Job run it: the
 * part comes from the scheduler's variables, `videobert shards check` names the chunks still missing,
 * and part directories merged give the same shards as parts written into one directory.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

import { arrayJobPart, checkShardSet, TokenShards } from '../src/index.js'
import { CORPUS } from './corpus.js'
import { tempDir } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const main = join(root, 'dist/cli/main.js')
const fixtures = join(root, '__test__/fixtures/video')
let dir: string
let manifest: string

/** `videobert ARGS` with the scheduler's variables `vars` (none of the machine's own array-job variables leak in). */
function videobert(vars: Record<string, string>, ...args: string[]) {
  const env = { ...process.env, ...vars }
  for (const k of ['SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_COUNT', 'SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_STEP', 'JOB_COMPLETION_INDEX']) if (!(k in vars)) delete env[k]
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000, env })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const tokenize = (vars: Record<string, string>, out: string, ...more: string[]) =>
  videobert(vars, 'tokenize', manifest, '--out', out, '--videos-per-shard', '2', '--fps', '5', '--frames-per-segment', '4', '--workers', '1', ...more)

/** The shard files of a directory and their bytes. */
function shardFiles(d: string): Map<string, Buffer> {
  return new Map(readdirSync(d).filter((n) => /^shard-\d+\.(json|safetensors)$/.test(n)).sort().map((n) => [n, readFileSync(join(d, n))]))
}

beforeAll(() => {
  dir = tempDir('array-job')
  manifest = join(dir, 'manifest.jsonl')
  writeFileSync(manifest, CORPUS.map((n, i) => JSON.stringify({ id: `v${i}`, video: join(fixtures, n), captions: [{ start: 0, end: 1, text: `clip ${i}` }] })).join('\n'))
})

describe('tokenizing in parts (array jobs)', () => {
  it('a Slurm array writes one directory; check names the missing chunks until every task has run', async () => {
    const out = join(dir, 'slurm')
    const slurm = (id: number) => ({ SLURM_ARRAY_TASK_ID: String(id + 1), SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' }) // sbatch --array=1-3
    for (const id of [0, 2]) {
      const r = tokenize(slurm(id), out)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain(`tokenize: part ${id}/3 (SLURM_ARRAY_TASK_ID=${id + 1} − SLURM_ARRAY_TASK_MIN=1 of SLURM_ARRAY_TASK_COUNT=3)`)
    }
    // 10 videos, 2 per chunk: chunks 0–4; part 1 of 3 makes chunks 1 and 4.
    let c = videobert({}, 'shards', 'check', out)
    expect(c.code).toBe(1)
    expect(c.stderr).toContain('3/5 chunks, 6 videos tokenized, 0 failed — incomplete: 2 chunks missing: 1, 4')
    const partial = await TokenShards.open(out)
    expect(partial.missingChunks).toEqual([1, 4]) // what pretrain warns with
    partial.dispose()
    const r = tokenize(slurm(1), out)
    expect(r.code, r.stderr).toBe(0)
    c = videobert({}, 'shards', 'check', out, '--json')
    expect(c.code, c.stderr).toBe(0)
    expect(JSON.parse(c.stdout)).toMatchObject({ complete: true, manifestVideos: 10, chunksExpected: 5, chunksPresent: [0, 1, 2, 3, 4], chunksMissing: [], videos: 10, failed: 0 })
    expect(await checkShardSet(out)).toMatchObject({ complete: true, videos: 10 })
  })

  it('a Kubernetes Indexed Job writes a directory per pod; merging them gives the same shards as the shared directory', () => {
    const parts = [0, 1].map((i) => join(dir, `pod-${i}`))
    for (const [i, out] of parts.entries()) {
      const r = tokenize({ JOB_COMPLETION_INDEX: String(i) }, out, '--shard-count', '2')
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain(`tokenize: part ${i}/2 (JOB_COMPLETION_INDEX=${i} of 2)`)
    }
    const merged = join(dir, 'merged')
    const half = videobert({}, 'shards', 'merge', parts[0]!, '--out', merged)
    expect(half.code).toBe(1)
    expect(half.stderr).toContain('incomplete: 2 chunks missing: 1, 3')
    const m = videobert({}, 'shards', 'merge', ...parts, '--out', merged, '--json')
    expect(m.code, m.stderr).toBe(0)
    expect(JSON.parse(m.stdout)).toMatchObject({ complete: true, chunksPresent: [0, 1, 2, 3, 4], videos: 10 })
    // Byte for byte what three Slurm tasks wrote into one directory (the partition changes nothing).
    const [a, b] = [shardFiles(merged), shardFiles(join(dir, 'slurm'))]
    expect([...a.keys()]).toEqual([...b.keys()])
    expect(a.size).toBe(10)
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!), name).toBe(true)
    // Merging again copies nothing new and still checks whole.
    expect(videobert({}, 'shards', 'merge', ...parts, '--out', merged).code).toBe(0)
  })

  it('refuses what it cannot place: a pod without its count, an array with a step, a directory that is not a shard set', () => {
    let r = tokenize({ JOB_COMPLETION_INDEX: '1' }, join(dir, 'x'))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('JOB_COMPLETION_INDEX=1 is set (a Kubernetes Indexed Job): give the Job\'s completions with --shard-count N')
    expect(() => arrayJobPart({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_STEP: '2' })).toThrow(/step 2 .* give --shard i\/n/)
    expect(() => arrayJobPart({ SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_COUNT: '3' })).toThrow(/gives part 7 of 3/) // --array=0,3,7
    expect(arrayJobPart({ SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ part: 2, parts: 4, source: 'SLURM_ARRAY_TASK_ID=2 of SLURM_ARRAY_TASK_COUNT=4' })
    expect(arrayJobPart({})).toBeNull()
    r = videobert({ SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '2' }, 'tokenize', manifest, '--out', join(dir, 'y'), '--shard', '1/2', '--videos-per-shard', '5', '--fps', '5', '--workers', '1')
    expect(r.code, r.stderr).toBe(0) // an explicit --shard wins over the variables
    expect(r.stderr).not.toContain('tokenize: part')
    r = videobert({}, 'shards', 'check', dir)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`InvalidInput: invalid input \`${dir}\`: not a token-shard directory (no index.json): make one with \`videobert tokenize\``)
  })
})
