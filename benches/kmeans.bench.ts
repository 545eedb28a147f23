/**
 * Visual-word assignment throughput (vectors/s) with the default tree (branching 12, depth 4 =
 * 20 736 words, F = 44): native `Codebook.assign` (Rust, all cores) vs plain TypeScript.
 * The codebook is random (assignment cost does not depend on its quality). Run: `npm run bench`.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { Codebook } from 'videobert-native'

import { HierarchicalCodebookTS } from './baselines/kmeans-assign.js'
import { dataDir, machine, median } from './common.js'

const K = 12
const DEPTH = 4
const DIM = 44

function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
  }
}

/** Write a codebook safetensors file (the format `Codebook.load` reads). */
function writeCodebook(path: string, levels: Float32Array[]): void {
  const header: Record<string, unknown> = { __metadata__: { branching: String(K), depth: String(DEPTH), dim: String(DIM) } }
  let offset = 0
  levels.forEach((l, i) => {
    header[`level_${i + 1}`] = { dtype: 'F32', shape: [l.length / DIM, DIM], data_offsets: [offset, offset + l.byteLength] }
    offset += l.byteLength
  })
  let json = Buffer.from(JSON.stringify(header))
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)])
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  writeFileSync(path, Buffer.concat([len, json, ...levels.map((l) => Buffer.from(l.buffer, l.byteOffset, l.byteLength))]))
}

const next = rng(7)
const levels = Array.from({ length: DEPTH }, (_, l) => Float32Array.from({ length: K ** (l + 1) * DIM }, next))
const path = join(dataDir, 'random-codebook.safetensors')
writeCodebook(path, levels)
const native = await Codebook.load(path)
const ts = new HierarchicalCodebookTS(K, DIM, levels)
const data = Float32Array.from({ length: 200_000 * DIM }, next)
const small = data.subarray(0, 20_000 * DIM)

// Warm up both (JIT for TypeScript, thread pool and page faults for native).
ts.assign(small.subarray(0, 2000 * DIM))
await native.assign(small)

const n = await median(5, async () => {
  const t0 = performance.now()
  const words = await native.assign(data)
  return { seconds: (performance.now() - t0) / 1000, words }
})
const t = await median(5, async () => {
  const t0 = performance.now()
  const words = ts.assign(small)
  return { seconds: (performance.now() - t0) / 1000, words }
})
// Same answers on the shared prefix.
const agree = t.words.every((w, i) => w === n.words[i])
console.log(`## k-means assign (12⁴ = ${native.numWords} words, F = ${DIM}) — ${machine()}\n`)
console.log('| implementation | vectors | seconds | vectors/s | native ÷ this |')
console.log('|---|---|---|---|---|')
const nRate = 200_000 / n.seconds
console.log(`| native Codebook.assign (Rust, all cores) | 200000 | ${n.seconds.toFixed(3)} | ${nRate.toFixed(0)} | 1.00× |`)
console.log(`| plain TypeScript | 20000 | ${t.seconds.toFixed(3)} | ${(20_000 / t.seconds).toFixed(0)} | ${(nRate / (20_000 / t.seconds)).toFixed(1)}× |`)
console.log(`\nassignments identical on the shared 20 000 vectors: ${agree}`)
