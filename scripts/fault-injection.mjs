#!/usr/bin/env node
// Checkpoint fault injection. A training process writes a checkpoint after every step and is
// SIGKILLed (1) at each fault point inside `save`, at several saves of the run, and (2) at random
// moments of its training. Each time, the newest complete checkpoint must load, and `resume` must
// finish the run with exactly the losses of an uninterrupted one.
// The fault points (VIDEOBERT_FAULT_POINT=<point>@<n>: the n-th arrival kills the process) are,
// in the order of one save: for each native file (model.safetensors, optimizer.safetensors,
// config.json) `half-written` (the temporary file cut to half), `before-rename`, `after-rename`
// (crates/videobert-common/src/fault.rs); then the checkpoint manager's `checkpoint:files-written`,
// `checkpoint:state-written`, `checkpoint:before-rename`, `checkpoint:after-rename`,
// `checkpoint:pruned-one` (src/training/faults.ts). A point kill also checks the kill landed where
// it was asked: the newest complete checkpoint is the one that point implies.
//   npm run build && node scripts/fault-injection.mjs [--mode both|points|random] [--trials 100]
//     [--saves 1,2,3,5,8,11,14,18] [--steps 20] [--seed 1] [--full-disk]
// --trials is the number of random kills; point kills are every point × every save in --saves.
// Prints a JSON summary (per mode: trials, kills, kills that left a half-written checkpoint,
// checkpoints lost, resumes that diverged) and exits 1 on any lost checkpoint, diverged resume or
// point kill that did not happen where asked.
// --full-disk (root: mounts a 3 MiB tmpfs) also trains onto a disk that fills up at the second
// checkpoint: the save must fail with a coded Io error and leave the first checkpoint loadable.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const { values: flags } = parseArgs({
  options: {
    mode: { type: 'string', default: 'both' },
    trials: { type: 'string', default: '100' },
    saves: { type: 'string', default: '1,2,3,5,8,11,14,18' },
    steps: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    'full-disk': { type: 'boolean', default: false },
  },
})
if (!['both', 'points', 'random'].includes(flags.mode)) throw new Error(`--mode must be both, points or random, not ${flags.mode}`)
const trials = flags.mode === 'points' ? 0 : Number(flags.trials)
const steps = Number(flags.steps)
const saves = flags.mode === 'random' ? [] : flags.saves.split(',').map(Number)
if (saves.some((n) => !Number.isInteger(n) || n < 1 || n > steps - 2)) throw new Error(`--saves must be save numbers in 1..${steps - 2}`)
const KEEP_LAST = 2
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
await new Trainer({ out, steps: ${steps}, batchSize: 4, schedule: { lr: 2e-3, warmupSteps: 2 }, evalEvery: 0, checkpointEvery: 1, keepLast: ${KEEP_LAST}, progress: false, resume: resume === 'resume', callbacks: [started] })
  .fit(await VideoBERT.create(config, { seed: 5, numThreads: 1 }), data)
`
const run = (out, resume, { killAfterMs, faultPoint } = {}) =>
  new Promise((resolve, reject) => {
    const env = { ...process.env, VIDEOBERT_FAULT_POINT: faultPoint ?? '' }
    const p = spawn(process.execPath, ['--input-type=module', '-e', child, out, resume ? 'resume' : ''], { stdio: ['ignore', 'pipe', 'pipe'], env })
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

/** The fault points of one save, each with the newest complete checkpoint a kill there at save n leaves. */
const NATIVE = ['model.safetensors', 'optimizer.safetensors', 'config.json'].flatMap((f) => ['half-written', 'before-rename', 'after-rename'].map((stage) => `${f}:${stage}`))
const POINTS = [
  ...NATIVE.map((point) => ({ point, newest: (n) => n - 1 })),
  ...['files-written', 'state-written', 'before-rename'].map((stage) => ({ point: `checkpoint:${stage}`, newest: (n) => n - 1 })),
  { point: 'checkpoint:after-rename', newest: (n) => n },
  // Pruning starts at the save after keepLast checkpoints exist: its n-th arrival is in save n + keepLast.
  { point: 'checkpoint:pruned-one', newest: (n) => n + KEEP_LAST },
]

const newSummary = (trials) => ({ trials, killed: 0, finishedBeforeKill: 0, halfWrittenCheckpoints: 0, checkpointsLost: 0, resumesDiverged: 0, failures: [] })
const summary = { steps, trainingMs: Math.round(ref.ms), points: { ...newSummary(POINTS.length * saves.length), wrongPlace: 0 }, random: newSummary(trials) }

/** One trial: a run killed as `kill` says, then the checks; returns the newest complete step. */
async function trial(s, out, kill, label) {
  const killed = await run(out, false, kill)
  if (killed.signal === 'SIGKILL') s.killed++
  else s.finishedBeforeKill++
  const dir = join(out, 'checkpoints')
  const names = existsSync(dir) ? readdirSync(dir) : []
  if (names.some((n) => n.startsWith('.tmp-'))) s.halfWrittenCheckpoints++
  const complete = names.filter((n) => /^step-\d+$/.test(n) && existsSync(join(dir, n, 'trainer_state.json'))).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
  const newest = complete.length > 0 ? Number(complete.at(-1).slice(5)) : 0
  if (complete.length > 0) {
    try {
      await VideoBERT.load(join(dir, complete.at(-1)))
    } catch (err) {
      s.checkpointsLost++
      s.failures.push({ trial: label, newest: complete.at(-1), error: String(err.message) })
      return { killed, newest }
    }
  }
  const resumed = await run(out, true)
  if (resumed.code !== 0 || JSON.stringify(trainLosses(out)) !== want) {
    s.resumesDiverged++
    s.failures.push({ trial: label, newest: complete.at(-1) ?? null, code: resumed.code, error: resumed.stderr.slice(-400) })
  }
  return { killed, newest }
}

for (const { point, newest } of POINTS) {
  for (const n of saves) {
    const label = `${point}@${n}`
    const r = await trial(summary.points, join(work, `point-${label.replace(/[^\w.-]/g, '_')}`), { faultPoint: label }, label)
    if (r.killed.signal !== 'SIGKILL' || r.newest !== newest(n)) {
      summary.points.wrongPlace++
      summary.points.failures.push({ trial: label, signal: r.killed.signal, newest: r.newest, expected: newest(n), error: r.killed.stderr.slice(-400) })
    }
  }
}

let state = Number(flags.seed) >>> 0 || 1
const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32)
// Kill moments span the first 80 % of the reference run's time: a trial can run faster than the
// reference did (it was timed while other test files loaded the CPU), and a kill after the end
// tests nothing (it counts as finishedBeforeKill).
for (let t = 0; t < trials; t++) await trial(summary.random, join(work, `trial-${t}`), { killAfterMs: 0.8 * uniform() * ref.ms }, t)
if (flags['full-disk']) summary.fullDisk = await fullDisk()
process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`)
spawnSync('rm', ['-rf', work])
const bad = (m) => m.checkpointsLost > 0 || m.resumesDiverged > 0 || m.wrongPlace > 0
if (bad(summary.points) || bad(summary.random) || (summary.fullDisk && !summary.fullDisk.ok)) process.exitCode = 1

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
