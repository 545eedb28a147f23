/**
 * The only module that imports the generated napi loader (`../index.js`).
 *
 * The loader is required inside a try so that a failure becomes one `VideoBertError` with the code
 * `NativeBinding` and a message naming the real cause — the missing platform package, the shared
 * library the system loader could not open, or a platform without a prebuilt binary — and how to
 * build from source, instead of napi's generic "Cannot find native binding" with the cause buried
 * in a chain of nested errors.
 *
 * It is also where native errors become `VideoBertError`s: they arrive as `"<Code>: <message>"`
 * (`fromNative`, `guard`), and the list of codes comes from the addon itself (`ERROR_CODES`).
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

import type * as Binding from '../index.js'
import type { ErrorCode } from '../index.js'
import { VideoBertError } from './errors.js'
import { explainLoadFailure, platformName, platformPackages } from './platform.js'

// candle runs its elementwise ops on a process-wide pool whose workers spin 25 000 rounds after
// each op before parking. Beside this library's own GEMM / fused-kernel pool that spinning takes
// cores the GEMM needs: parking at once made a 2-thread `small` train step ~12 % faster on a
// 2-core machine (benches/RESULTS.md). Set before the addon loads (candle reads it once); a value
// the user set wins.
process.env.CANDLE_BARRIER_POOL_SPIN_LIMIT ??= '0'

/**
 * `VIDEOBERT_CUDA=1` loads the CUDA variant instead of the CPU addon: a local
 * `videobert-native.linux-x64-gnu-cuda.node` (from `npm run build:cuda`) or the opt-in package
 * `videobert-native-linux-x64-gnu-cuda`, through napi's `NAPI_RS_NATIVE_LIBRARY_PATH` (a path
 * the user set there wins).
 */
function cudaAddon(): string | undefined {
  if (process.env.VIDEOBERT_CUDA !== '1' || process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return undefined
  const local = fileURLToPath(new URL('../videobert-native.linux-x64-gnu-cuda.node', import.meta.url))
  if (existsSync(local)) return local
  try {
    return createRequire(import.meta.url).resolve('videobert-native-linux-x64-gnu-cuda')
  } catch {
    throw new VideoBertError(
      'NativeBinding',
      'VIDEOBERT_CUDA=1 but no CUDA addon is installed: `npm install videobert-native-linux-x64-gnu-cuda`, or build it from source with `npm run build:cuda` (docs/installing.md, "GPU")',
    )
  }
}

const cuda = cudaAddon()
if (cuda) process.env.NAPI_RS_NATIVE_LIBRARY_PATH = cuda

// Loaded with require() rather than `await import()`: no top-level await in the library's module
// graph, so that CommonJS code can `require('videobert-native')` (Node's require of ES modules,
// unflagged since 20.19, refuses a graph with top-level await).
let binding: typeof Binding
try {
  binding = createRequire(import.meta.url)('../index.js') as typeof Binding
} catch (err) {
  let musl = false
  try {
    musl = process.platform === 'linux' && !(process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime
  } catch {
    // keep glibc
  }
  throw new VideoBertError('NativeBinding', explainLoadFailure(err, platformPackages(), platformName(process.platform, process.arch, musl)), { cause: err })
}

export const {
  errorCodes,
  /** Whether this addon was built with CUDA support (`npm run build:cuda`, or the CUDA variant). */
  cudaBuilt,
  isDeviceName,
  checkpointFileNames,
  createModel,
  loadModel,
  loadForClassification,
  loadForCaptioning,
  loadForFineTuning,
  presetConfig,
  stepDefaults,
  presetNames,
  presetTraining,
  normalizeConfig,
  NativeVideoBert,
  CancelToken,
  tokenizeFile,
  tokenizeManifest,
  openTokenShards,
  checkShardSet,
  mergeShardSets,
  fitCodebook,
  assignCodebook,
  trainVocab,
  loadCodebook,
  loadTextTokenizer,
  NativeTextTokenizer,
  builtinFeatures,
  tokenizeDefaults,
  encodeVideo,
  videoFormats,
  readSubtitles,
  subtitleTracks,
  buildManifest,
  NativeCodebook,
  NativeTokenShards,
  distributedLaunch,
  initDistributed,
  distributedBarrier,
  distributedBroadcast,
  distributedFinish,
} = binding

export type NativeVideoBert = Binding.NativeVideoBert
export type CancelToken = Binding.CancelToken
export type NativeTextTokenizer = Binding.NativeTextTokenizer
export type NativeCodebook = Binding.NativeCodebook
export type NativeTokenShards = Binding.NativeTokenShards
export type {
  NativeEmbeddings,
  NativeBatch,
  NativeCreateOptions,
  StepResult,
  MaskPrediction,
  GeneratedCaption,
  NativeGenerateOptions,
  NativeTokenizeOptions,
  NativeTokenizedVideo,
  NativeEncodeOptions,
  NativeEncodedVideo,
  NativeTokenizeDefaults,
  TokenizeProgress,
  TokenizeSummary,
  TokenizeFailure,
  CodebookInfo,
  PresetName,
  ErrorCode,
  VideoFormats,
  VideoFormat,
  LeftOutFormat,
  NativeAlignReport,
  NativeCaption,
  NativeSubtitleTrack,
  NativeManifestReport,
  NativeVocabSummary,
  NativeSkippedVideo,
  NativePairedVideo,
  NativeUnreadableSubtitles,
} from '../index.js'

/** Every error code, in the order of the native `ErrorCode` enum (read from the addon). */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(binding.errorCodes())

const PREFIX = /^([A-Za-z]+): ([\s\S]*)$/

/** Convert anything thrown by the native addon into a `VideoBertError`. */
export function fromNative(err: unknown): VideoBertError {
  if (err instanceof VideoBertError) return err
  const message = err instanceof Error ? err.message : String(err)
  const m = PREFIX.exec(message)
  if (m && (ERROR_CODES as readonly string[]).includes(m[1]!)) {
    return new VideoBertError(m[1] as ErrorCode, m[2]!, { cause: err })
  }
  // napi's own argument conversion (e.g. a string where a typed array belongs).
  const napiCode = (err as { code?: unknown } | null)?.code
  if (napiCode === 'InvalidArg' || napiCode === 'NumberExpected' || napiCode === 'ObjectExpected') {
    return new VideoBertError('InvalidInput', message, { cause: err })
  }
  return new VideoBertError('Internal', message, { cause: err })
}

/** Await a native promise (or call) and convert its failure. */
export async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    throw fromNative(err)
  }
}

export function guardSync<T>(work: () => T): T {
  try {
    return work()
  } catch (err) {
    throw fromNative(err)
  }
}
