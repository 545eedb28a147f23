import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

import { buildCorpus } from './corpus.js'
import { tempDir } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const main = join(root, 'dist/cli/main.js')
let corpus: string
let config: string

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const common = () => ['pretrain', '--data', join(corpus, 'shards'), '--tokenizer', join(corpus, 'tokenizer.json'), '--preset', 'tiny', '--config', config,
  '--steps', '16', '--batch-size', '4', '--lr', '2e-3', '--warmup', '2', '--eval-every', '8', '--checkpoint-every', '2', '--seed', '3', '--threads', '1', '--json']

function trainLines(run: string): string[] {
  return readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').filter((l) => l.includes('"split":"train"'))
}

beforeAll(async () => {
  corpus = tempDir('pretrain-corpus')
  await buildCorpus(corpus)
  config = join(corpus, 'config.json')
  writeFileSync(config, JSON.stringify({ max_segments: 4, max_text_len: 12 }))
})

describe('videobert pretrain', () => {
  it('a run killed with SIGKILL at a random step and resumed logs the same losses as an uninterrupted run', async () => {
    const straight = join(tempDir('straight'), 'run')
    const r = cli(...common(), '--out', straight)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ stopped: 'completed', step: 16 })
    const expected = trainLines(straight)
    expect(expected).toHaveLength(16)

    const killAt = 5 + Math.floor(Math.random() * 8) // after step 5..12
    const run = join(tempDir('killed'), 'run')
    const child = spawn(process.execPath, [main, ...common(), '--out', run], { stdio: 'ignore' })
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        const n = existsSync(join(run, 'metrics.jsonl')) ? trainLines(run).length : 0
        if (n >= killAt) {
          clearInterval(poll)
          child.kill('SIGKILL')
          resolve()
        }
      }, 5)
      child.on('exit', () => {
        clearInterval(poll)
        resolve()
      })
      child.on('error', reject)
    })
    await new Promise((r) => setTimeout(r, 50))
    const resumed = cli(...common(), '--out', run, '--resume')
    expect(resumed.code, `${resumed.stderr} (killed after ${killAt} steps)`).toBe(0)
    expect(trainLines(run)).toEqual(expected)

    // inspect: a run, one of its checkpoints, the shard set, a config.
    expect(cli('inspect', run).stdout).toMatch(/^run: checkpoints at steps .*16; latest .*step-16/)
    const ck = JSON.parse(cli('inspect', join(run, 'checkpoints', 'step-16'), '--json').stdout)
    expect(ck).toMatchObject({ kind: 'checkpoint', step: 16, config: { hiddenSize: 64, maxSegments: 4, featureDim: 44 } })
    expect(ck.trainerState.step).toBe(16)
    expect(readFileSync(join(run, 'checkpoints', 'step-16', 'tokenizer.json'))).toEqual(readFileSync(join(corpus, 'tokenizer.json')))
    expect(cli('inspect', join(corpus, 'shards')).stdout).toMatch(/^token shards: 10 videos \(0 failed\), \d+ segments, 20 captions/)
    expect(cli('inspect', config).stdout).toMatch(/^config: H=256 .*T=4/)
    expect(cli('inspect', join(corpus, 'nope')).code).toBe(1)
  })

  it('bad input: one clear line, exit code 1', () => {
    const dir = tempDir('bad')
    const unknown = join(dir, 'unknown.json')
    writeFileSync(unknown, JSON.stringify({ hidden_size: 64, colour: 'red' }))
    const a = cli(...common(), '--out', join(dir, 'a'), '--config', unknown)
    expect(a.code).toBe(1)
    expect(a.stderr.trim().split('\n')).toHaveLength(1)
    expect(a.stderr).toMatch(/`colour`: unknown field/)

    const range = join(dir, 'range.json')
    writeFileSync(range, JSON.stringify({ text_mask_prob: 7 }))
    expect(cli(...common(), '--out', join(dir, 'b'), '--config', range).stderr).toMatch(/`textMaskProb`/)

    const empty = join(dir, 'empty')
    mkdirSync(empty)
    const c = cli('pretrain', '--data', empty, '--tokenizer', join(corpus, 'tokenizer.json'), '--out', join(dir, 'c'))
    expect(c.code).toBe(1)
    expect(c.stderr).toMatch(/index\.json/)

    const otherDim = join(dir, 'dim.json')
    writeFileSync(otherDim, JSON.stringify({ feature_dim: 32 }))
    expect(cli(...common(), '--out', join(dir, 'd'), '--config', otherDim).stderr).toMatch(/feature size 44.*featureDim 32/)

    const file = join(dir, 'file')
    writeFileSync(file, 'x')
    const e = cli(...common(), '--out', join(file, 'run'))
    expect(e.code).toBe(1)
    expect(e.stderr).toMatch(/not writable/)
  })
})
