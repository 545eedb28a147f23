/**
 * The only module that imports the generated napi loader (`../index.js`).
 *
 * The loader is imported dynamically so that a failure becomes one `VideoBertError` with the code
 * `NativeBinding` and a message naming the real cause — the missing platform package, the shared
 * library the system loader could not open, or a platform without a prebuilt binary — and how to
 * build from source, instead of napi's generic "Cannot find native binding" with the cause buried
 * in a chain of nested errors.
 */
import type * as Binding from '../index.js'
import { VideoBertError } from './errors.js'
import { explainLoadFailure, platformName, platformPackages } from './platform.js'

let binding: typeof Binding
try {
  binding = await import('../index.js')
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
  createModel,
  loadModel,
  loadForClassification,
  presetConfig,
  normalizeConfig,
  NativeVideoBert,
  CancelToken,
  tokenizeFile,
  tokenizeManifest,
  openTokenShards,
  fitCodebook,
  assignCodebook,
  trainVocab,
  loadCodebook,
  loadTextTokenizer,
  NativeTextTokenizer,
  builtinFeatures,
  encodeVideo,
  NativeCodebook,
  NativeTokenShards,
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
  NativeTokenizeOptions,
  NativeTokenizedVideo,
  NativeEncodeOptions,
  NativeEncodedVideo,
  TokenizeProgress,
  TokenizeSummary,
  TokenizeFailure,
  CodebookInfo,
} from '../index.js'
