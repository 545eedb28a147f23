import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const dataDir = fileURLToPath(new URL('../../benches/.data/', import.meta.url))
mkdirSync(dataDir, { recursive: true })

/** A test clip made with FFmpeg's lavfi source (cached in benches/.data, not committed). */
export function clip(name: string, lavfi: string, codec: string[]): string {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, name)
  if (!existsSync(path)) {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', lavfi, ...codec, path], { stdio: 'inherit' })
  }
  return path
}

/**
 * Put `text` into benches/RESULTS.md between the `<!-- name:begin -->` and `<!-- name:end -->`
 * markers (replacing what was there), or append it under `heading` when the markers are missing.
 */
export function writeResults(name: string, heading: string, text: string): void {
  const path = fileURLToPath(new URL('../../benches/RESULTS.md', import.meta.url))
  const [begin, end] = [`<!-- ${name}:begin -->`, `<!-- ${name}:end -->`]
  const block = `${begin}\n${text}\n${end}`
  const old = existsSync(path) ? readFileSync(path, 'utf8') : ''
  const at = old.indexOf(begin)
  const stop = old.indexOf(end)
  writeFileSync(path, at >= 0 && stop > at ? old.slice(0, at) + block + old.slice(stop + end.length) : `${old.trimEnd()}\n\n## ${heading}\n\n${block}\n`)
}

export function machine(): string {
  const c = cpus()
  return `${c.length} × ${c[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`
}

export async function median<T extends { seconds: number }>(runs: number, f: () => Promise<T>): Promise<T> {
  const out: T[] = []
  for (let i = 0; i < runs; i++) out.push(await f())
  out.sort((a, b) => a.seconds - b.seconds)
  return out[Math.floor(runs / 2)]!
}
