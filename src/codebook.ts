/** Visual words: fitting a hierarchical k-means codebook on shards, assigning its words, a loaded `Codebook`. */
import { copyFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

import { supportUsing } from './disposable.js'
import { VideoBertError } from './errors.js'
import { CODEBOOK_FILE } from './files.js'
import { assignCodebook, fitCodebook, guard, guardSync, loadCodebook, type CodebookInfo, type NativeCodebook } from './native.js'

export type { CodebookInfo }

/** Options of `fitCodebookOnShards`: the tree's shape (branching^depth visual words), the Lloyd iterations, the seed and the sample size. */
export interface CodebookOptions {
  /** @default 12 */ branching?: number
  /** @default 4 (12⁴ = 20 736 words) */ depth?: number
  /** Lloyd iterations per node. @default 20 */ iterations?: number
  /** @default 0 */ seed?: number
  /** Segments sampled for fitting. @default 200000 */ sample?: number
  /**
   * Fit on per-dimension standardised segment features ((x − mean) / std of the fitting sample,
   * stored in the codebook and applied when assigning), so no feature dominates the distances by its
   * scale alone; `false` fits on the raw features (as codebooks before 2026-12-07). @default true
   */
  standardize?: boolean
}

/** Fit a hierarchical k-means codebook on a shard directory's segment features; saves it to `out`. */
export async function fitCodebookOnShards(shards: string, out: string, options: CodebookOptions = {}): Promise<CodebookInfo> {
  return guard(() => fitCodebook(shards, out, options))
}

/**
 * Assign visual words to every segment of a shard directory, in place, and keep a copy of the
 * codebook there (`codebook.safetensors`: the Trainer puts it into checkpoints). Returns the segment count.
 */
export async function assignCodebookToShards(shards: string, codebook: string): Promise<number> {
  const n = await guard(() => assignCodebook(shards, codebook))
  keepCodebook(shards, codebook)
  return n
}

/** Copy `codebook` into the shard directory `shards` (unless it is that very file). */
export function keepCodebook(shards: string, codebook: string): void {
  const kept = join(shards, CODEBOOK_FILE)
  if (resolve(kept) === resolve(codebook)) return
  try {
    copyFileSync(codebook, kept)
  } catch (err) {
    throw new VideoBertError('Io', `${kept}: ${(err as Error).message}`, { cause: err })
  }
}

/** A hierarchical k-means codebook (visual words). */
export class Codebook {
  readonly #native: NativeCodebook

  private constructor(native: NativeCodebook) {
    this.#native = native
  }

  /** Load a codebook file (safetensors) written by `fitCodebookOnShards` / `videobert codebook fit`. */
  static async load(path: string): Promise<Codebook> {
    return new Codebook(await guard(() => loadCodebook(path)))
  }

  get numWords(): number {
    return guardSync(() => this.#native.numWords)
  }

  get dim(): number {
    return guardSync(() => this.#native.dim)
  }

  /** Free the native memory now instead of when the GC collects this object; later calls throw a `Disposed` error. Idempotent; `using x = …` calls it. */
  dispose(): void {
    this.#native.dispose()
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#native.disposed
  }

  /** Word ids of `[n, dim]` row-major vectors (all cores). */
  async assign(vectors: Float32Array): Promise<Uint32Array> {
    return guard(() => this.#native.assign(vectors))
  }
}

supportUsing(Codebook.prototype, 'sync')
