/**
 * `VideoTokenizer`: videos → segments → features (SPEC §2.1), natively. One file at a time with
 * `tokenizeFile`, or a whole dataset into token shards with `tokenizeManifest` (parallel, resumable,
 * bad files reported, not fatal).
 */
import { EventEmitter } from 'node:events'

import { withSignal } from './cancel.js'
import { VideoBertError } from './errors.js'
import { keepCodebook } from './codebook.js'
import { type ShardParams } from './shards.js'
import {
  builtinFeatures,
  guard,
  tokenizeDefaults,
  tokenizeFile,
  tokenizeManifest,
  type NativeTokenizedVideo,
  type NativeTokenizeOptions,
  type TokenizeProgress,
  type TokenizeSummary,
} from './native.js'

export type { TokenizeProgress, TokenizeSummary }
export type { TokenizeFailure, NativeTokenizedVideo, NativeTokenizeDefaults } from './native.js'

/**
 * How the video tokenizer samples, segments and describes a video. A left-out field takes its native
 * default (below); a shard set records how its videos were tokenized (`ShardParams`, `tokenizeOptionsOf`).
 */
export interface TokenizeOptions {
  /** Frames sampled per second (by presentation time; correct on variable frame rate). @default 10 */
  fps?: number
  /** Frames per segment (one video token). @default 16 */
  framesPerSegment?: number
  /** Frames between segment starts; < framesPerSegment overlaps. @default framesPerSegment */
  stride?: number
  /** Keep the last partial segment (pooled over its real frames) instead of dropping it. @default false */
  padLast?: boolean
  /** Temporal pooling of frame features within a segment. @default 'mean' */
  pool?: 'mean' | 'max'
  /** Regions per side of the spatial grid; R = grid². @default 2 */
  grid?: number
  /**
   * Feature size F. Left out: the builtin descriptor's own size (44 for `'builtin'`, 68 for
   * `'builtin_v2'`); another size is a fixed random projection of it. Pretrained extractors give their width.
   * @default the extractor's size
   */
  featureDim?: number
  /** Side of the square frame the extractor sees. @default 112 */
  frameSize?: number
  /** Decoder threads per video. 0 = auto: the cores the video's decoder may use, or 4 frame threads per core (at most 16) for a video of at least 5·10⁸ pixels to decode (10 s of 1080p). @default 0 */
  threads?: number
  /**
   * `'builtin'` (deterministic descriptor, no weights: per region colour, edge orientation and
   * motion histograms), `'builtin_v2'` (the same and an object-centred glimpse of the edges around
   * what moves: which object it is, by its shape — docs/your-own-videos.md), `'backbone'` (the
   * pretrained image network `backboneWeights` holds), or the network those weights must be:
   * `'mobilenet_v2'`, `'efficientnet_lite0'`, `'resnet'`, `'clip'`. @default 'builtin'
   */
  extractor?: 'builtin' | 'builtin_v2' | 'backbone' | 'mobilenet_v2' | 'efficientnet_lite0' | 'resnet' | 'clip'
  /**
   * Local weights for a pretrained extractor, as distributed: a PyTorch `.pth` (zip or legacy format)
   * or safetensors — MobileNetV2 or ResNet-18/34/50/101/152 with torchvision's tensor names,
   * EfficientNet-Lite0 with efficientnet_pytorch's, or a CLIP vision tower with Hugging Face's /
   * open_clip's names (docs/backbones.md). Nothing is downloaded.
   */
  backboneWeights?: string
  /** ResNet: input side per grid cell (frames are decoded at grid × this), default 112; MobileNetV2 and EfficientNet-Lite0: the frame's side, default 224. */
  backboneInput?: number
  /**
   * The FNV-1a hash (16 hex digits) `backboneWeights` must have. A checkpoint's `video_tokenizer.json`
   * records it, so new videos are tokenized by the very network its training data was; a file with
   * another hash (retrained, or replaced under the same name) is an `InvalidConfig` error. Unset: any file.
   */
  backboneHash?: string
  /**
   * The longest video accepted, in seconds from its first frame. A longer video — or a file whose
   * timestamps jump past this, which sample-and-hold would turn into hours of repeated frames — is a
   * `Decode` error (in a manifest run: that video fails, the rest go on). `Infinity`: no limit.
   * @default 14400 (4 hours)
   */
  maxDuration?: number
}

/** A tokenized video: `S` segments of `R` regions × `F` features. */
export type TokenizedVideo = NativeTokenizedVideo

/**
 * What every option of the video tokenizer, the codebook and the vocabulary is when left out — the
 * native defaults, read from the addon (the CLI's help shows these).
 */
export const TOKENIZE_DEFAULTS = Object.freeze(tokenizeDefaults())

/** Video-tokenizer options equivalent to a shard set's parameters (how its videos were tokenized). */
export function tokenizeOptionsOf(p: ShardParams): TokenizeOptions {
  return {
    fps: p.fps,
    framesPerSegment: p.framesPerSegment,
    stride: p.stride,
    padLast: p.padLast,
    pool: p.pool,
    grid: p.grid,
    featureDim: p.featureDim,
    frameSize: p.frameSize,
    // a backbone's shards record "backbone:<arch>:<hash>" and where the weights were: the hash
    // makes a checkpoint refuse a different file at that path
    ...(p.extractor.startsWith('backbone:')
      ? { extractor: 'backbone' as const, backboneWeights: p.backboneWeights, backboneInput: p.backboneInput, backboneHash: p.extractor.split(':')[2] }
      : { extractor: p.extractor as TokenizeOptions['extractor'] }),
  }
}

/** Options of `VideoTokenizer.tokenizeManifest`: where the shards go, how the run is split and stored, and how it reports. */
export interface ManifestRunOptions {
  /** Output directory of the shards. */
  out: string
  /** Videos decoded at the same time. @default all cores */
  workers?: number
  /** This job's part of the work, `[i, n]` or `"i/n"` (chunks c with c % n == i) — for Slurm arrays / indexed jobs. */
  shard?: [number, number] | string
  /** Videos per shard file. @default 256 */
  videosPerShard?: number
  /** Feature storage precision. @default 'f16' */
  dtype?: 'f16' | 'f32'
  /** A codebook (from `fitCodebook`) to also store visual-word ids. */
  codebook?: string
  /** Subtitle files → captions: the most words of one caption (docs/subtitles.md). @default 16 */
  captionWords?: number
  /** Subtitle files → captions: the longest silence, seconds, inside one merged caption. @default 1 */
  captionGap?: number
  signal?: AbortSignal
  /** Called with progress (at most ~10 times a second, and at the end); also emitted as 'progress'. */
  onProgress?: (p: TokenizeProgress) => void
}

function parseShard(shard: ManifestRunOptions['shard']): number[] | undefined {
  if (shard === undefined) return undefined
  const [i, n] = typeof shard === 'string' ? shard.split('/').map(Number) : shard
  if (!Number.isInteger(i) || !Number.isInteger(n) || i! < 0 || n! <= 0 || i! >= n!) {
    throw new VideoBertError('InvalidConfig', `invalid config field \`shard\`: expected i/n with 0 <= i < n, got ${String(shard)}`)
  }
  return [i!, n!]
}

/** The events of a `VideoTokenizer`: `'progress'` during `tokenizeManifest`, with what `onProgress` gets. */
export interface VideoTokenizerEvents {
  progress: [TokenizeProgress]
}

/**
 * Tokenizes videos with one set of `TokenizeOptions` (frozen at construction): one file with
 * `tokenizeFile`, or a manifest or list of files into token shards with `tokenizeManifest`.
 */
export class VideoTokenizer extends EventEmitter<VideoTokenizerEvents> {
  readonly options: Readonly<TokenizeOptions>

  constructor(options: TokenizeOptions = {}) {
    super()
    this.options = Object.freeze({ ...options })
  }

  #native(): NativeTokenizeOptions {
    return { ...this.options }
  }

  /** Decode and tokenize one file. Rejects with `Decode`, `NoVideoStream`, `Io` or `Cancelled`. */
  async tokenizeFile(path: string, options: { signal?: AbortSignal } = {}): Promise<TokenizedVideo> {
    return withSignal(options.signal, (token) => guard(() => tokenizeFile(path, this.#native(), token)))
  }

  /**
   * Tokenize a manifest (a `.jsonl`/`.csv` path) or a list of video files/directories into token
   * shards under `options.out`. Failures are returned in the summary (and `failures.jsonl`), not thrown.
   */
  async tokenizeManifest(input: string | string[], options: ManifestRunOptions): Promise<TokenizeSummary> {
    const { out, workers, videosPerShard, dtype, codebook, captionWords, captionGap, signal, onProgress } = options
    const shard = parseShard(options.shard)
    const [manifest, paths] = typeof input === 'string' ? [input, undefined] : [undefined, input]
    const progress = (p: TokenizeProgress) => {
      onProgress?.(p)
      this.emit('progress', p)
    }
    const summary = await withSignal(signal, (token) =>
      guard(() =>
        tokenizeManifest(manifest, paths, { out, tokenize: this.#native(), workers, shard, videosPerShard, dtype, codebook, captionWords, captionGap }, progress, token),
      ),
    )
    if (codebook) keepCodebook(out, codebook)
    return summary
  }
}

/** The frames given to `computeBuiltinFeatures`: their count and size in pixels, and the descriptor's grid and feature size. */
export interface FramesOptions {
  numFrames: number
  width: number
  height: number
  /** @default 2 */
  grid?: number
  /** @default the descriptor's size (44 for builtin, 68 for builtin_v2) */
  featureDim?: number
  /** Which builtin descriptor. @default 'builtin' */
  extractor?: 'builtin' | 'builtin_v2'
}

/**
 * The builtin descriptor for frames you decoded yourself: `rgb` holds `numFrames` packed RGB24
 * frames (`[n, height, width, 3]`), consecutive in time (motion uses the previous one). Returns
 * `[n, grid², featureDim]`.
 */
export async function computeBuiltinFeatures(rgb: Uint8Array, o: FramesOptions): Promise<Float32Array> {
  return guard(() => builtinFeatures(rgb, o.numFrames, o.width, o.height, { grid: o.grid, featureDim: o.featureDim, extractor: o.extractor }))
}
