/** `TokenShards`: random access to what `tokenizeManifest` wrote (memory-mapped natively). */
import { camelKeys } from './config.js'
import { supportUsing } from './disposable.js'
import { guard, guardSync, openTokenShards, type NativeTokenShards } from './native.js'

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
  /** How subtitle files became captions, when not the default. */
  captions?: { maxWords: number; maxGap: number }
  /** A backbone's weights file (absolute, where it was when the shards were made) and input side. */
  backboneWeights?: string
  backboneInput?: number
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
  /** Chunks of the manifest not in the directory (a part of an array job not done yet: `checkShardSet` says more); empty when complete. */
  get missingChunks(): number[] {
    return guardSync(() => this.#native.missingChunks)
  }

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

supportUsing(TokenShards.prototype, 'sync')
