#!/usr/bin/env node
// Checkpoint fault injection: a training process that writes a checkpoint after every step is
// SIGKILLed at a random moment of its training (so many kills land inside `save`: between files,
// mid-file, before or after the rename, during pruning); then the newest complete checkpoint must
// load, and `resume` must finish the run with exactly the losses of an uninterrupted one.
//   npm run build && node scripts/fault-injection.mjs [--trials 100] [--steps 20] [--seed 1] [--full-disk]
// Prints a JSON summary (trials, kills that left a half-written checkpoint, checkpoints lost,
// resumes that diverged) and exits 1 if any checkpoint was lost or any resume diverged.
// --full-disk (root: mounts a 3 MiB tmpfs) also trains onto a disk that fills up at the second
// checkpoint: the save must fail with a coded Io error and leave the first checkpoint loadable.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const { values: flags } = parseArgs({
  options: { trials: { type: 'string', default: '100' }, steps: { type: 'string', default: '20' }, seed: { type: 'string', default: '1' }, 'full-disk': { type: 'boolean', default: false } },
})
const trials = Number(flags.trials)
const steps = Number(flags.steps)
const root = fileURLToPath(new URL('..', import.meta.url))
const api = pathToFileURL(join(root, 'dist', 'index.js')).href
const { VideoBERT, VideoTokenizer, trainVocabulary } = await import(api)

// A small captioned corpus from the video fixtures, tokenized once.
const work = mkdtempSync(join(tmpdir(), 'videobert-faults-'))
const fixtures = join(root, '__test__', 'fixtures', 'video')
const manifest = join(work, 'manifest.jsonl')
writeFileSync(
  manifest,
  ['h264.mp4', 'vp9.webm', 'mpeg4.avi', 'theora.ogv']
    .map((f, i) => JSON.stringify({ video: join(fixtures, f), captions: [{ start: 0, end: 3, text: `a ${['red', 'green', 'blue', 'grey'][i]} circle moves ${['left', 'right'][i % 2]}` }] }))
    .join('\n'),
)
await trainVocabulary(manifest, join(work, 'tokenizer.json'), { vocabSize: 100, minFrequency: 1 })
await new VideoTokenizer({ fps: 10, framesPerSegment: 4 }).tokenizeManifest(manifest, { out: join(work, 'shards'), workers: 1 })

// The training process: `steps` steps of the tiny preset, a checkpoint after each; "started" on
// stdout after the first step (the kill clock starts there).
const child = `
import { resolveConfig, TextTokenizer, TokenShards, Trainer, VideoBERT, VideoTextDataset } from ${JSON.stringify(api)}
const [out, resume] = process.argv.slice(1)
const tokenizer = TextTokenizer.load(${JSON.stringify(join(work, 'tokenizer.json'))})
const shards = await TokenShards.open(${JSON.stringify(join(work, 'shards'))})
const config = resolveConfig({ preset: 'tiny', featureDim: shards.params.featureDim, numRegions: shards.numRegions, maxSegments: 4, maxTextLen: 8, vocabSize: tokenizer.vocabSize })
const data = new VideoTextDataset(shards, config, tokenizer, { validationFraction: 0, seed: 3 })
const started = { onTrainBatchEnd: (_t, step) => { if (step === 1) process.stdout.write('started\\n') } }
await new Trainer({ out, steps: ${steps}, batchSize: 4, schedule: { lr: 2e-3, warmupSteps: 2 }, evalEvery: 0, checkpointEvery: 1, keepLast: 2, progress: false, resume: resume === 'resume', callbacks: [started] })
  .fit(await VideoBERT.create(config, { seed: 5, numThreads: 1 }), data)
`
const run = (out, resume, killAfterMs) =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', child, out, resume ? 'resume' : ''], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let t0 = 0
    p.stderr.on('data', (d) => (stderr += d))
    p.stdout.on('data', (d) => {
      if (!t0 && String(d).includes('started')) {
        t0 = performance.now()
        if (killAfterMs !== undefined) setTimeout(() => p.kill('SIGKILL'), killAfterMs)
      }
    })
    p.on('error', reject)
    p.on('exit', (code, signal) => resolve({ code, signal, stderr, ms: performance.now() - t0 }))
  })
const trainLosses = (out) =>
  readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.split === 'train')
    .map(({ step, loss, mlmLoss, videoLoss, vtmLoss, gradNorm }) => ({ step, loss, mlmLoss, videoLoss, vtmLoss, gradNorm }))

const reference = join(work, 'reference')
const ref = await run(reference, false)
if (ref.code !== 0) throw new Error(`the reference run failed: ${ref.stderr}`)
const want = JSON.stringify(trainLosses(reference))

let state = Number(flags.seed) >>> 0 || 1
const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32)
const summary = { trials, steps, trainingMs: Math.round(ref.ms), killed: 0, finishedBeforeKill: 0, halfWrittenCheckpoints: 0, checkpointsLost: 0, resumesDiverged: 0, failures: [] }
for (let t = 0; t < trials; t++) {
  const out = join(work, `trial-${t}`)
  const killed = await run(out, false, uniform() * ref.ms)
  if (killed.signal === 'SIGKILL') summary.killed++
  else summary.finishedBeforeKill++
  const dir = join(out, 'checkpoints')
  const names = existsSync(dir) ? readdirSync(dir) : []
  if (names.some((n) => n.startsWith('.tmp-'))) summary.halfWrittenCheckpoints++
  const complete = names.filter((n) => /^step-\d+$/.test(n) && existsSync(join(dir, n, 'trainer_state.json'))).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
  if (complete.length > 0) {
    try {
      await VideoBERT.load(join(dir, complete.at(-1)))
    } catch (err) {
      summary.checkpointsLost++
      summary.failures.push({ trial: t, newest: complete.at(-1), error: String(err.message) })
      continue
    }
  }
  const resumed = await run(out, true)
  if (resumed.code !== 0 || JSON.stringify(trainLosses(out)) !== want) {
    summary.resumesDiverged++
    summary.failures.push({ trial: t, newest: complete.at(-1) ?? null, code: resumed.code, error: resumed.stderr.slice(-400) })
  }
}
if (flags['full-disk']) summary.fullDisk = await fullDisk()
process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`)
spawnSync('rm', ['-rf', work])
if (summary.checkpointsLost > 0 || summary.resumesDiverged > 0 || (summary.fullDisk && !summary.fullDisk.ok)) process.exitCode = 1

/** Train onto a 3 MiB tmpfs: the first checkpoint (~2 MiB) fits, the second does not. */
async function fullDisk() {
  const mnt = join(work, 'full')
  spawnSync('mkdir', ['-p', mnt])
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { encoding: 'utf8' })
  if (m.status !== 0) throw new Error(`--full-disk needs to mount a tmpfs (root): ${m.stderr.trim()}`)
  try {
    const out = join(mnt, 'run')
    const r = await run(out, false)
    const dir = join(out, 'checkpoints')
    const names = existsSync(dir) ? readdirSync(dir) : []
    const complete = names.filter((n) => /^step-\d+$/.test(n))
    let loads = false
    try {
      await VideoBERT.load(join(dir, complete.at(-1)))
      loads = true
    } catch {
      loads = false
    }
    const code = /VideoBertError \[?(\w+)\]?|code: '(\w+)'/.exec(r.stderr)
    const io = /\bIo\b/.test(r.stderr) && /No space left on device|ENOSPC/i.test(r.stderr)
    return { ok: r.code !== 0 && io && complete.length === 1 && loads, exitCode: r.code, checkpoints: complete, leftovers: names.filter((n) => n.startsWith('.tmp-')), newestLoads: loads, error: (code ? r.stderr.slice(r.stderr.indexOf(code[0])) : r.stderr).split('\n').slice(0, 2).join(' ').slice(0, 300) }
  } finally {
    spawnSync('umount', [mnt])
  }
}
