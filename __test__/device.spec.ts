import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

import { cudaBuilt, VideoBERT } from '../src/index.js'
import { expectCode, tempDir } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))

function node(code: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('compute device', () => {
  it('the default build computes on the CPU and says so', async () => {
    expect(cudaBuilt()).toBe(false)
    const model = await VideoBERT.create('tiny')
    expect(model.device).toBe('cpu')
    const explicit = await VideoBERT.create('tiny', { device: 'cpu', numThreads: 1 })
    expect(explicit.device).toBe('cpu')
    // The options travel with the model (the Trainer reloads checkpoints with them on --resume).
    expect(explicit.options).toEqual({ device: 'cpu', numThreads: 1 })
    const dir = tempDir('device-load')
    await explicit.save(dir)
    expect((await VideoBERT.load(dir, { device: 'cpu' })).device).toBe('cpu')
  })

  it('CUDA on a binary without it is DeviceUnavailable, naming the fix; a bad name is InvalidConfig', async () => {
    for (const device of ['cuda', 'cuda:0', 'cuda:3'] as const) {
      await expectCode(() => VideoBERT.create('tiny', { device }), 'DeviceUnavailable', /built without CUDA.*npm run build:cuda/)
    }
    const dir = tempDir('device-cuda-load')
    await (await VideoBERT.create('tiny')).save(dir)
    await expectCode(() => VideoBERT.load(dir, { device: 'cuda' }), 'DeviceUnavailable', /cuda:0/)
    for (const device of ['gpu', 'cuda:', 'cuda:-1', 'CUDA']) {
      await expectCode(() => VideoBERT.create('tiny', { device: device as 'cpu' }), 'InvalidConfig', /`device`: must be "cpu", "cuda" or "cuda:N"/)
    }
  })

  it('--device is checked by the CLI verbs that compute', () => {
    for (const verb of [['embed', '--out', 'x.jsonl'], ['caption'], ['fill-mask', '--video', 'v.mp4', '--prompt', 'a [MASK]'], ['classify'], ['retrieve', '--shards', 'd']]) {
      const r = spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), verb[0]!, '--checkpoint', 'ckpt', ...verb.slice(1), '--device', 'gpu'], { encoding: 'utf8', timeout: 60_000 })
      expect(r.status, verb[0]).toBe(1)
      expect(r.stderr, verb[0]).toMatch(/^videobert: InvalidConfig: --device expects cpu, cuda or cuda:N, got 'gpu'/)
    }
    const help = spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), 'pretrain', '--help'], { encoding: 'utf8' })
    expect(help.stdout).toMatch(/--device NAME\s+cpu, cuda or cuda:N/)
  })

  it('VIDEOBERT_CUDA=1 loads the CUDA addon, or says how to get one', () => {
    // A checkout where `npm run build:cuda` ran has the CUDA addon; it needs the toolkit's libraries
    // (.cuda/, from scripts/cuda/setup.sh) and a libcuda.so.1 (the link stub there) to load.
    const cudaLibs = [join(root, '.cuda/nvidia/cu13/lib'), join(root, '.cuda/stub')].filter((d) => existsSync(d))
    const r = node("const m = await import('./dist/index.js'); console.log(m.cudaBuilt())", {
      VIDEOBERT_CUDA: '1',
      LD_LIBRARY_PATH: [...cudaLibs, process.env.LD_LIBRARY_PATH ?? ''].filter(Boolean).join(':'),
    })
    if (existsSync(join(root, 'videobert-native.linux-x64-gnu-cuda.node'))) {
      expect(r.stdout.trim(), r.stderr).toBe('true')
    } else {
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/NativeBinding|no CUDA addon is installed/)
      expect(r.stderr).toMatch(/npm run build:cuda/)
    }
    // Without the switch the CPU addon loads as before.
    expect(node("const m = await import('./dist/index.js'); console.log(m.cudaBuilt())", {}).stdout.trim()).toBe('false')
  })
})
