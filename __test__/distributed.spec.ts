/**
 * Data-parallel training over real MPI processes (Open MPI's mpirun, installed by scripts/setup.sh):
 * 2 ranks × batch 2 train like 1 process × batch 4; a rank that hangs stops the other with a coded
 * error within the timeout, leaving the last checkpoint whole, which resumes on 1 process to the
 * numbers of the uninterrupted run; fine-tuning runs data-parallel too.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

import { buildCorpus } from './corpus.js'
import { tempDir } from './helpers.js'

const main = join(fileURLToPath(new URL('..', import.meta.url)), 'dist/cli/main.js')
const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_rmaps_base_oversubscribe: '1' }
let common: string[]
let corpus: string
/** The 20 train losses of 1 process × batch 4 (computed once, by the first test that needs them). */
let reference: number[] | undefined

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, env })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function trainLosses(out: string): number[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { split: string; loss: number }).filter((r) => r.split === 'train').map((r) => r.loss)
}

beforeAll(async () => {
  corpus = tempDir('distributed-corpus')
  await buildCorpus(corpus, (i) => ({ label: { colour: ['red', 'green', 'blue'][i % 3] } }))
  const config = join(corpus, 'config.json')
  writeFileSync(config, JSON.stringify({ max_segments: 4, max_text_len: 12 }))
  common = ['pretrain', '--data', join(corpus, 'shards'), '--tokenizer', join(corpus, 'tokenizer.json'), '--preset', 'tiny', '--config', config,
    '--lr', '2e-3', '--warmup', '2', '--eval-every', '0', '--validation-fraction', '0', '--windows', 'captions', '--seed', '3', '--threads', '1', '--json']
})

/** The collective call at which the faulty rank hangs: after the step-10 checkpoint, before step 20. */
const HANG_AT = 60

function singleRun(): number[] {
  if (!reference) {
    const out = join(tempDir('dp-single'), 'run')
    const r = run(process.execPath, [main, ...common, '--steps', '20', '--batch-size', '4', '--out', out])
    expect(r.code, r.stderr).toBe(0)
    reference = trainLosses(out)
  }
  return reference
}

describe('data-parallel training under mpirun', () => {
  it('2 ranks × batch 2 end where 1 process × batch 4 ends, step for step', () => {
    const a = singleRun()
    const parallel = join(tempDir('dp-two'), 'run')
    const two = run('mpirun', ['-np', '2', '--bind-to', 'none', process.execPath, main, ...common, '--steps', '20', '--batch-size', '2', '--out', parallel])
    expect(two.code, two.stderr).toBe(0)
    expect(JSON.parse(two.stdout)).toMatchObject({ stopped: 'completed', step: 20 }) // rank 0 alone reports
    const b = trainLosses(parallel)
    expect(b).toHaveLength(20)
    for (let i = 0; i < 20; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5 * a[i]!)
  })

  it('a rank that hangs stops the other with a Distributed error within the timeout; the last checkpoint is whole and resumes on 1 process to the uninterrupted numbers', () => {
    const out = join(tempDir('dp-hang'), 'run')
    const cmd = [process.execPath, main, ...common, '--steps', '20', '--batch-size', '2', '--checkpoint-every', '5', '--distributed-timeout', '3', '--out', out]
    const t0 = performance.now()
    const r = run('mpirun', ['-np', '1', '--bind-to', 'none', ...cmd, ':', '-np', '1', '-x', `VIDEOBERT_FAULT_POINT=collective:hang@${HANG_AT}`, ...cmd])
    const seconds = (performance.now() - t0) / 1000
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/Distributed: .*rank 0 of 2: .* did not complete within 3 s: another rank died or hangs/)
    expect(seconds).toBeLessThan(60)
    expect(existsSync(join(out, 'checkpoints', 'step-10', 'model.safetensors'))).toBe(true)
    expect(existsSync(join(out, 'checkpoints', 'step-20'))).toBe(false) // it stopped mid-run
    // The last checkpoint (2 ranks × batch 2) resumes on 1 process × batch 4: the same global batch,
    // the same data position — and every loss of the run is the uninterrupted 1-process run's.
    const resumed = run(process.execPath, [main, ...common, '--steps', '20', '--batch-size', '4', '--checkpoint-every', '5', '--resume', '--out', out])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout)).toMatchObject({ stopped: 'completed', step: 20 })
    const [a, b] = [singleRun(), trainLosses(out)]
    expect(b).toHaveLength(20)
    for (let i = 0; i < 20; i++) expect(Math.abs(a[i]! - b[i]!), `step ${i + 1}`).toBeLessThan(1e-5 * a[i]!)
  })

  it('finetune --distributed: 2 ranks × batch 2 fine-tune like 1 process × batch 4', () => {
    const pre = join(tempDir('dp-pre'), 'run')
    expect(run(process.execPath, [main, ...common, '--steps', '4', '--batch-size', '4', '--out', pre]).code).toBe(0)
    const finetune = (out: string, batch: string) => ['finetune', '--task', 'classify', '--checkpoint', join(pre, 'checkpoints', 'step-4'), '--shards', join(corpus, 'shards'),
      '--label', 'colour', '--validation-fraction', '0', '--steps', '10', '--batch-size', batch, '--seed', '1', '--threads', '1', '--out', out, '--json']
    const single = join(tempDir('ft-single'), 'run')
    const one = run(process.execPath, [main, ...finetune(single, '4')])
    expect(one.code, one.stderr).toBe(0)
    const parallel = join(tempDir('ft-two'), 'run')
    const two = run('mpirun', ['-np', '2', '--bind-to', 'none', process.execPath, main, ...finetune(parallel, '2'), '--distributed', 'on'])
    expect(two.code, two.stderr).toBe(0)
    expect(two.stdout.trim().split('\n')).toHaveLength(1) // rank 0 alone reports
    expect(JSON.parse(two.stdout)).toMatchObject({ steps: 10, stopped: 'completed' })
    const [a, b] = [trainLosses(single), trainLosses(parallel)]
    expect(b).toHaveLength(10)
    for (let i = 0; i < 10; i++) expect(Math.abs(a[i]! - b[i]!), `step ${i + 1}`).toBeLessThan(1e-5 * a[i]!)
    expect(existsSync(join(parallel, 'checkpoints', 'step-10', 'classes.json'))).toBe(true)
  })
})

describe('torchrun', () => {
  /** torchrun's variables for rank `rank` of 2, set by hand as torchrun sets them. */
  const torchrunEnv = (rank: number) => ({ ...env, RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29599', TORCHELASTIC_USE_AGENT_STORE: 'False' })

  it('on CPUs is refused with a Distributed error naming the launchers that start an MPI world', () => {
    const out = join(tempDir('torchrun-cpu'), 'run')
    const r = spawnSync(process.execPath, [main, ...common, '--steps', '2', '--batch-size', '2', '--out', out], { encoding: 'utf8', timeout: 60_000, env: torchrunEnv(0) })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('Distributed: distributed training: torchrun started 2 processes without an MPI runtime: it launches GPU runs (--device cuda, the NCCL backend); on CPUs launch with mpirun, mpiexec or srun')
    expect(existsSync(out)).toBe(false)
  })

  it('with --device cuda in the CPU build is refused naming the CUDA build', () => {
    const out = join(tempDir('torchrun-cuda'), 'run')
    const r = spawnSync(process.execPath, [main, ...common, '--steps', '2', '--batch-size', '2', '--device', 'cuda', '--out', out], { encoding: 'utf8', timeout: 60_000, env: torchrunEnv(1) })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('the NCCL backend is in the CUDA build of the addon')
  })
})
