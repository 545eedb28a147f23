import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

function node(script: string, env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000, env })
}

// The package's built entry (dist/), imported by name through package.json "exports".
const TRAIN = `
  const { VideoBERT, randomBatch } = await import('videobert-native')
  const model = await VideoBERT.create('tiny', { seed: 1, numThreads: 2 })
  const m = await model.trainStep(randomBatch(model.config, { batchSize: 2 }), { lr: 1e-3 })
`

describe('process lifecycle', () => {
  it("candle's elementwise pool parks at once by default; a spin limit the user set wins", () => {
    const show = `await import('videobert-native'); console.log(process.env.CANDLE_BARRIER_POOL_SPIN_LIMIT)`
    const { CANDLE_BARRIER_POOL_SPIN_LIMIT: _, ...rest } = process.env
    expect(node(show, rest).stdout).toBe('0\n')
    expect(node(show, { ...rest, CANDLE_BARRIER_POOL_SPIN_LIMIT: '7' }).stdout).toBe('7\n')
  })

  it('a process that used the addon exits by itself with code 0', () => {
    const r = node(`${TRAIN}; console.log('loss', m.loss.toFixed(3))`)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^loss \d+\.\d{3}\n$/)
  })

  it('works inside a worker_thread, and the process exits cleanly after the worker ends', () => {
    const r = node(`
      import { Worker } from 'node:worker_threads'
      const code = ${JSON.stringify(`${TRAIN}; (await import('node:worker_threads')).parentPort.postMessage(m.loss)`)}
      const w = new Worker(code, { eval: true, type: 'module' })
      w.on('message', (loss) => console.log('worker loss', loss.toFixed(3)))
      w.on('error', (e) => { console.error(e); process.exitCode = 1 })
      w.on('exit', (c) => console.log('worker exit', c))
    `)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/worker loss \d+\.\d{3}\nworker exit 0\n/)
  })

  it('a worker terminated mid-step does not crash the process', () => {
    const r = node(`
      import { Worker } from 'node:worker_threads'
      const code = ${JSON.stringify(`
        const { VideoBERT, randomBatch } = await import('videobert-native')
        const model = await VideoBERT.create('small', { seed: 1 })
        const { parentPort } = await import('node:worker_threads')
        parentPort.postMessage('training')
        await model.trainStep(randomBatch(model.config, { batchSize: 8 }), { lr: 1e-3 })
      `)}
      const w = new Worker(code, { eval: true, type: 'module' })
      w.on('message', async () => { await w.terminate(); console.log('terminated') })
    `)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toBe('terminated\n')
  })
})
