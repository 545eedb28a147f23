/** Writing safetensors files of f32 tensors from TypeScript (embeddings, test fixtures). */
import { writeFileSync } from 'node:fs'

/**
 * A safetensors file of f32 tensors (little-endian, as the format requires), data aligned to 8 bytes,
 * with optional string metadata.
 */
export function writeSafetensors(path: string, tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {}
  let offset = 0
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = t.data.length * 4
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] }
    offset += bytes
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const head = Buffer.from(json, 'utf8')
  const out = Buffer.alloc(8 + head.length + offset)
  out.writeBigUInt64LE(BigInt(head.length), 0)
  head.copy(out, 8)
  let at = 8 + head.length
  for (const t of Object.values(tensors)) {
    for (const x of t.data) {
      out.writeFloatLE(x, at)
      at += 4
    }
  }
  writeFileSync(path, out)
}
