/**
 * Data-parallel training over real MPI processes (Open MPI's mpirun, installed by scripts/setup.sh):
 * 2 ranks × batch 2 train like 1 process × batch 4, and a rank that hangs stops the other with a
 * coded error within the timeout, leaving the last checkpoint whole.
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

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, env })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function trainLosses(out: string): number[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { split: string; loss: number }).filter((r) => r.split === 'train').map((r) => r.loss)
}

beforeAll(async () => {
  const corpus = tempDir('distributed-corpus')
  await buildCorpus(corpus)
  const config = join(corpus, 'config.json')
  writeFileSync(config, JSON.stringify({ max_segments: 4, max_text_len: 12 }))
  common = ['pretrain', '--data', join(corpus, 'shards'), '--tokenizer', join(corpus, 'tokenizer.json'), '--preset', 'tiny', '--config', config,
    '--lr', '2e-3', '--warmup', '2', '--eval-every', '0', '--validation-fraction', '0', '--windows', 'captions', '--seed', '3', '--threads', '1', '--json']
})

describe('data-parallel training under mpirun', () => {
  it('2 ranks × batch 2 end where 1 process × batch 4 ends, step for step', () => {
    const single = join(tempDir('dp-single'), 'run')
    const one = run(process.execPath, [main, ...common, '--steps', '20', '--batch-size', '4', '--out', single])
    expect(one.code, one.stderr).toBe(0)
    const parallel = join(tempDir('dp-two'), 'run')
    const two = run('mpirun', ['-np', '2', '--bind-to', 'none', process.execPath, main, ...common, '--steps', '20', '--batch-size', '2', '--out', parallel])
    expect(two.code, two.stderr).toBe(0)
    expect(JSON.parse(two.stdout)).toMatchObject({ stopped: 'completed', step: 20 }) // rank 0 alone reports
    const [a, b] = [trainLosses(single), trainLosses(parallel)]
    expect(b).toHaveLength(20)
    for (let i = 0; i < 20; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5 * a[i]!)
  })

  it('a rank that hangs stops the other with a Distributed error within the timeout; the last checkpoint is whole', () => {
    const out = join(tempDir('dp-hang'), 'run')
    const cmd = [process.execPath, main, ...common, '--steps', '200', '--batch-size', '2', '--checkpoint-every', '5', '--distributed-timeout', '3', '--out', out]
    const t0 = performance.now()
    const r = run('mpirun', ['-np', '1', '--bind-to', 'none', ...cmd, ':', '-np', '1', '-x', 'VIDEOBERT_FAULT_POINT=collective:hang@60', ...cmd])
    const seconds = (performance.now() - t0) / 1000
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/Distributed: .*rank 0 of 2: .* did not complete within 3 s: another rank died or hangs/)
    expect(seconds).toBeLessThan(60)
    expect(existsSync(join(out, 'checkpoints', 'step-5', 'model.safetensors'))).toBe(true)
  })
})
