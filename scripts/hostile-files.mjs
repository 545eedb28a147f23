#!/usr/bin/env node
// The hostile-file matrix (docs/limits.md, "Limits, and hostile files and sizes"): each input below is made here, then
// handed to the public API in a child process of its own; the table gives the error code the call
// ends with (or "ok" where the input is harmless by design) and the child's peak RSS.
//   npm run build && node scripts/hostile-files.mjs            (prints a Markdown table)
// Needs the built package (dist/) and the video fixtures; writes only to a temporary directory.
import { spawnSync } from 'node:child_process'
import { closeSync, copyFileSync, cpSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const api = pathToFileURL(join(root, 'dist', 'index.js')).href
const { VideoBERT, VideoTokenizer, trainVocabulary } = await import(api)
const work = mkdtempSync(join(tmpdir(), 'videobert-hostile-'))
const video = join(root, '__test__', 'fixtures', 'video', 'h264.mp4')

/** A sparse file of `bytes` (nothing is written to disk). */
function sparse(path, bytes) {
  const fd = openSync(path, 'w')
  ftruncateSync(fd, bytes)
  closeSync(fd)
}

// The good inputs the hostile ones are made from.
const ckpt = join(work, 'checkpoint')
await (await VideoBERT.create('tiny')).save(ckpt)
const model = readFileSync(join(ckpt, 'model.safetensors'))
const headerLength = Number(model.readBigUInt64LE(0))
const header = model.subarray(8, 8 + headerLength).toString('utf8')
const withHeader = (h) => Buffer.concat([Buffer.from(new BigUint64Array([BigInt(Buffer.byteLength(h))]).buffer), Buffer.from(h), model.subarray(8 + headerLength)])
const manifest = join(work, 'manifest.jsonl')
writeFileSync(manifest, `${JSON.stringify({ video, captions: [{ start: 0, end: 1, text: 'a red circle moves left' }] })}\n`)
const tokenizer = join(work, 'tokenizer.json')
await trainVocabulary(manifest, tokenizer, { vocabSize: 100, minFrequency: 1 })
const shards = join(work, 'shards')
await new VideoTokenizer({ fps: 10, framesPerSegment: 4 }).tokenizeManifest(manifest, { out: shards, workers: 1 })
const shardIndex = readFileSync(join(shards, 'shard-00000.json'), 'utf8')


const cases = []
const add = (input, code) => cases.push({ input, code })

function checkpointCase(name, input, edit) {
  const dir = join(work, name)
  mkdirSync(dir, { recursive: true })
  for (const f of ['config.json', 'model.safetensors', 'optimizer.safetensors']) copyFileSync(join(ckpt, f), join(dir, f))
  edit(dir)
  add(input, `await VideoBERT.load(${JSON.stringify(dir)})`)
}

add('`VideoBERT.create({ hiddenSize: 65536, intermediateSize: 1 << 20 })`', `await VideoBERT.create({ hiddenSize: 65536, intermediateSize: 1 << 20 })`)
add('`VideoBERT.create({ hiddenSize: 1 << 20 })`', `await VideoBERT.create({ hiddenSize: 1 << 20 })`)
add('`VideoBERT.create({ preset: "tiny", maxTextLen: 200000 })` (activations)', `await VideoBERT.create({ preset: 'tiny', maxTextLen: 200000 })`)
add('a train step of 2^22 tiny samples', `const m = await VideoBERT.create({ preset: 'tiny', maxTextLen: 4, maxSegments: 2, numRegions: 0, featureDim: 2 }); const B = 1 << 22; await m.trainStep({ batchSize: B, textIds: new Uint32Array(B * 4).fill(5), videoFeatures: new Float32Array(B * 4) }, { lr: 1e-3 })`)
checkpointCase('cfg-huge', 'checkpoint `config.json` with `hidden_size: 1048576`', (dir) => {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, hidden_size: 1048576 }))
})
checkpointCase('cfg-big-file', 'checkpoint `config.json` of 2 MiB', (dir) => sparse(join(dir, 'config.json'), 2 << 20))
checkpointCase('st-header-len', '`model.safetensors` whose header length is 2^64 − 1', (dir) => {
  const b = Buffer.from(model)
  b.writeBigUInt64LE(2n ** 64n - 1n, 0)
  writeFileSync(join(dir, 'model.safetensors'), b)
})
checkpointCase('st-offsets', '`model.safetensors` with offsets past the file', (dir) => {
  const i = header.indexOf('"data_offsets":[')
  const j = header.indexOf(']', i) + 1
  writeFileSync(join(dir, 'model.safetensors'), withHeader(`${header.slice(0, i)}"data_offsets":[0,99999999999]${header.slice(j)}`))
})
checkpointCase('st-shape', '`model.safetensors` with a tensor of 2^62 elements', (dir) => {
  const i = header.indexOf('"shape":[')
  const j = header.indexOf(']', i) + 1
  writeFileSync(join(dir, 'model.safetensors'), withHeader(`${header.slice(0, i)}"shape":[4611686018427387904]${header.slice(j)}`))
})
checkpointCase('st-4tib', '`model.safetensors` of 4 TiB (sparse)', (dir) => sparse(join(dir, 'model.safetensors'), 2 ** 42))

const hostileTokenizer = join(work, 'tokenizer-padding.json')
const tk = JSON.parse(readFileSync(tokenizer, 'utf8'))
writeFileSync(hostileTokenizer, JSON.stringify({ ...tk, padding: { strategy: { Fixed: 1e12 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' } }))
add('`tokenizer.json` padding every text to 10^12 tokens', `const t = TextTokenizer.load(${JSON.stringify(hostileTokenizer)}); if (t.encode('a red circle', 16).length > 16) throw new Error('padded')`)
const bigTokenizer = join(work, 'tokenizer-big.json')
sparse(bigTokenizer, 300 << 20)
add('`tokenizer.json` of 300 MiB (sparse)', `TextTokenizer.load(${JSON.stringify(bigTokenizer)})`)

function shardCase(name, input, edit) {
  const dir = join(work, name)
  cpSync(shards, dir, { recursive: true })
  edit(dir)
  add(input, `await TokenShards.open(${JSON.stringify(dir)})`)
}
shardCase('sh-offset', 'shard index: a video at offset 10^6', (dir) => writeFileSync(join(dir, 'shard-00000.json'), shardIndex.replace('"offset":0', '"offset":1000000')))
shardCase('sh-segments', 'shard index: a video of 10^13 segments', (dir) => writeFileSync(join(dir, 'shard-00000.json'), shardIndex.replace(/"num_segments":\d+/, '"num_segments":9999999999999')))
shardCase('sh-cut', 'shard data file cut short', (dir) => {
  const f = join(dir, 'shard-00000.safetensors')
  const b = readFileSync(f)
  writeFileSync(f, b.subarray(0, b.length - 16))
})
const y4m = join(work, 'huge.y4m')
writeFileSync(y4m, Buffer.concat([Buffer.from('YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n'), Buffer.alloc(100000, 7)]))
add('a video whose header claims 100 000 × 100 000 pixels (Y4M)', `await new VideoTokenizer({}).tokenizeFile(${JSON.stringify(y4m)})`)
// Sample-and-hold repeats a frame until the next timestamp: 52 frames claiming 20 000 s each would
// be 4 million sampled frames (hours of work) without maxDuration (default 4 h).
const slowAvi = join(work, 'slow.avi')
writeFileSync(slowAvi, aviWithSecondsPerFrame(readFileSync(join(root, '__test__', 'fixtures', 'video', 'mjpeg.avi')), 20000))
add('an AVI (137 KiB) whose header claims 20 000 s per frame', `await new VideoTokenizer({}).tokenizeFile(${JSON.stringify(slowAvi)})`)

/** The AVI with its video stream header's time base (dwScale / dwRate) set to `seconds` per frame. */
function aviWithSecondsPerFrame(avi, seconds) {
  const out = Buffer.from(avi)
  const strh = out.indexOf('strh')
  out.writeUInt32LE(seconds, strh + 8 + 20) // dwScale
  out.writeUInt32LE(1, strh + 8 + 24) // dwRate
  return out
}

const prelude = `import { TextTokenizer, TokenShards, VideoBERT, VideoTokenizer } from ${JSON.stringify(api)};`
const rows = []
for (const c of cases) {
  const script = `${prelude}
let code = 'ok', message = ''
try { ${c.code} } catch (e) { code = e.code ?? e.name; message = String(e.message) }
process.stdout.write(JSON.stringify({ code, message, maxRssKiB: process.resourceUsage().maxRSS }))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 })
  let out
  try {
    out = JSON.parse(r.stdout)
  } catch {
    out = { code: `process ended: status ${r.status}, signal ${r.signal}`, message: r.stderr.slice(-300), maxRssKiB: NaN }
  }
  rows.push({ ...c, ...out })
  process.stderr.write(`${c.input}: ${out.code} ${out.message.slice(0, 120)}\n`)
}
process.stdout.write('| input | result | peak RSS |\n|---|---|---|\n')
for (const r of rows) process.stdout.write(`| ${r.input} | \`${r.code}\` | ${(r.maxRssKiB / 1024).toFixed(0)} MiB |\n`)
if (rows.some((r) => r.code.startsWith('process ended'))) process.exitCode = 1
