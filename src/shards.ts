/** `TokenShards`: random access to what `tokenizeManifest` wrote (memory-mapped natively). */
import { copyFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

import { camelKeys } from './config.js'
import { supportUsing } from './disposable.js'
import { VideoBertError } from './errors.js'
import { CODEBOOK_FILE } from './files.js'
import {
  assignCodebook,
  fitCodebook,
  guard,
  guardSync,
  loadCodebook,
  loadTextTokenizer,
  openTokenShards,
  trainVocab,
  type CodebookInfo,
  type NativeCodebook,
  type NativeTextTokenizer,
  type NativeTokenShards,
} from './native.js'

export type { CodebookInfo }

/** One caption of a video record: its time span in seconds, its text, and the segments it overlaps. */
export interface CaptionSpan {
  start: number
  end: number
  text: string
  /** First and last segment (inclusive) overlapping the caption, or null. */
  segments: [number, number] | null
}

/**
 * What a shard set keeps of one video (`TokenShards.video`): its manifest id and path, segment
 * count, duration and segment times, captions, and the manifest's label and other fields.
 */
export interface VideoRecord {
  id: string
  path: string
  numSegments: number
  duration: number
  /** `[start, end]` seconds per segment. */
  segments: [number, number][]
  captions: CaptionSpan[]
  label?: unknown
  /** The manifest's other fields for this video (kept, never interpreted). */
  metadata?: Record<string, unknown>
}

/**
 * How a shard set's videos were tokenized and stored (the parameters of its `index.json`, camelCase):
 * the video-tokenizer settings, the feature dtype, the hash of the codebook its visual words come
 * from (null without), and videos per shard file.
 */
export interface ShardParams {
  extractor: string
  fps: number
  framesPerSegment: number
  stride: number
  padLast: boolean
  pool: 'mean' | 'max'
  grid: number
  featureDim: number
  frameSize: number
  dtype: 'f16' | 'f32'
  codebook: string | null
  videosPerShard: number
}

/**
 * A token-shard directory written by `tokenizeManifest`, open for random access (memory-mapped
 * natively): per video its record, region and segment features, and visual words. Open one with
 * `TokenShards.open`; `dispose()` frees it at once.
 */
export class TokenShards {
  readonly #native: NativeTokenShards
  readonly params: Readonly<ShardParams>
  /** The shard directory. */
  readonly dir: string

  private constructor(native: NativeTokenShards, dir: string) {
    this.#native = native
    this.dir = dir
    this.params = Object.freeze(camelKeys(JSON.parse(native.paramsJson)) as unknown as ShardParams)
  }

  /** Open the shard directory `dir` (rejects with a coded error when it cannot be read as one). */
  static async open(dir: string): Promise<TokenShards> {
    return new TokenShards(await guard(() => openTokenShards(dir)), dir)
  }

  /** Number of videos (failed ones are not counted). */
  get length(): number {
    return guardSync(() => this.#native.length)
  }

  /** Free the native memory (and the memory-mapped shard files) now instead of when the GC collects this object; later calls throw a `Disposed` error. Idempotent; `using x = …` calls it. */
  dispose(): void {
    this.#native.dispose()
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#native.disposed
  }

  /** Regions per segment, R = grid². */
  get numRegions(): number {
    return this.params.grid * this.params.grid
  }

  /** The record of video `i` (0-based, below `length`): id, path, segment times, captions, label and metadata. */
  video(i: number): VideoRecord {
    const { offset: _offset, ...rec } = camelKeys(JSON.parse(guardSync(() => this.#native.videoJson(i))))
    return rec as unknown as VideoRecord
  }

  /** `[S, R, F]` region features of video `i`. */
  regions(i: number): Float32Array {
    return guardSync(() => this.#native.regions(i))
  }

  /** `[S, F]` segment features of video `i`. */
  pooled(i: number): Float32Array {
    return guardSync(() => this.#native.pooled(i))
  }

  /** `[S]` visual-word ids of video `i`, or null without a codebook. */
  visualWords(i: number): Uint32Array | null {
    return guardSync(() => this.#native.visualWords(i)) ?? null
  }

  /** Videos that failed to tokenize: `{ id, path, code, message }`. */
  get failures(): { id: string; path: string; code: string; message: string }[] {
    return guardSync(() => this.#native.failuresJson)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  }
}

/** Options of `fitCodebookOnShards`: the tree's shape (branching^depth visual words), the Lloyd iterations, the seed and the sample size. */
export interface CodebookOptions {
  /** @default 12 */ branching?: number
  /** @default 4 (12⁴ = 20 736 words) */ depth?: number
  /** Lloyd iterations per node. @default 20 */ iterations?: number
  /** @default 0 */ seed?: number
  /** Segments sampled for fitting. @default 200000 */ sample?: number
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

/** Options of `trainVocabulary`: the vocabulary's size bound, the minimum count of a piece, and lower-casing. */
export interface VocabOptions {
  /** Upper bound: pieces the captions never use are dropped, so training is reproducible. @default 8192 */ vocabSize?: number
  /** @default 2 */ minFrequency?: number
  /** @default true */ lowercase?: boolean
}

/** Train a WordPiece vocabulary on a manifest's captions and write `tokenizer.json`. Returns its size. */
export async function trainVocabulary(manifest: string, out: string, options: VocabOptions = {}): Promise<number> {
  return guard(() => trainVocab(manifest, out, options))
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

/**
 * A WordPiece text tokenizer: the `tokenizer.json` written by `trainVocabulary` / `videobert vocab`,
 * or any BERT-style one with `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3 `[MASK]`=4.
 */
export class TextTokenizer {
  readonly #native: NativeTextTokenizer

  private constructor(native: NativeTextTokenizer) {
    this.#native = native
  }

  /** Load a `tokenizer.json` (synchronously). */
  static load(path: string): TextTokenizer {
    return new TextTokenizer(guardSync(() => loadTextTokenizer(path)))
  }

  get vocabSize(): number {
    return guardSync(() => this.#native.vocabSize)
  }

  /** Free the native memory now instead of when the GC collects this object; later calls throw a `Disposed` error. Idempotent; `using x = …` calls it. */
  dispose(): void {
    this.#native.dispose()
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#native.disposed
  }

  /** Word-piece ids (no [CLS]/[SEP]: the model adds them), truncated to `maxLen`. */
  encode(text: string, maxLen = 512): Uint32Array {
    return guardSync(() => this.#native.encode(text, maxLen))
  }

  /** The text of word-piece ids, special tokens skipped. */
  decode(ids: Uint32Array | number[]): string {
    return guardSync(() => this.#native.decode(ids instanceof Uint32Array ? ids : Uint32Array.from(ids)))
  }

  /** The id of `token` in the vocabulary, or null when it has none. */
  tokenToId(token: string): number | null {
    return guardSync(() => this.#native.tokenToId(token)) ?? null
  }
}

supportUsing(TokenShards.prototype, 'sync')
supportUsing(Codebook.prototype, 'sync')
supportUsing(TextTokenizer.prototype, 'sync')
