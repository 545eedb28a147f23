/**
 * The only module that imports the generated napi loader (`../index.js`).
 *
 * The loader is imported dynamically so that a failure becomes one `VideoBertError` with the code
 * `NativeBinding` and a message naming the real cause — the missing platform package, the shared
 * library the system loader could not open, or a platform without a prebuilt binary — and how to
 * build from source, instead of napi's generic "Cannot find native binding" with the cause buried
 * in a chain of nested errors.
 */
import { createRequire } from 'node:module'

import type * as Binding from '../index.js'
import { VideoBertError } from './errors.js'

const BUILD_FROM_SOURCE =
  'to build from source (Rust and a C toolchain needed): git clone the repository, then `bash scripts/setup.sh` (see the README, "Building from source")'

/** The napi platform name of this process, as the platform packages are named (`linux-x64-gnu`). */
export function platformName(platform: string = process.platform, arch: string = process.arch, musl = false): string {
  if (platform === 'linux') return `linux-${arch}-${musl ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function messagesOf(err: unknown): string[] {
  const out: string[] = []
  for (let e: unknown = err; e != null && out.length < 64; e = (e as { cause?: unknown }).cause) {
    out.push(e instanceof Error ? e.message : String(e))
  }
  return out
}

/**
 * Why the loader failed, in one line. `err` is what importing `../index.js` threw: napi chains the
 * error of every candidate it tried through `cause`.
 */
export function explainLoadFailure(err: unknown, packages: readonly string[], platform = platformName()): string {
  const messages = messagesOf(err)
  const wanted = `videobert-native-${platform}`
  const notFound = (m: string) => /Cannot find module|MODULE_NOT_FOUND|ERR_MODULE_NOT_FOUND/.test(m)
  // A candidate that exists but does not load: a shared library or symbol the system lacks, a binary
  // for another architecture, a version mismatch.
  const broken = messages.find((m) => !notFound(m) && !/^Unsupported (OS|architecture)|^Cannot find native binding|WASI/.test(m))
  if (broken) {
    const first = broken.split('\n')[0]!
    const hint = /GLIBC_|GLIBCXX_/.test(first)
      ? 'the binary needs a newer C library than this system has'
      : /cannot open shared object|Library not loaded|specified module could not be found/.test(first)
        ? 'a shared library it links is missing on this system'
        : 'the binary does not load here'
    return `videobert-native: the native addon for ${platform} failed to load (${hint}): ${first}. Reinstall the package, or ${BUILD_FROM_SOURCE}.`
  }
  if (!packages.includes(wanted)) {
    const offered = packages.map((p) => p.replace('videobert-native-', '')).join(', ')
    return `videobert-native has no prebuilt binary for ${platform} (prebuilt: ${offered}); ${BUILD_FROM_SOURCE}.`
  }
  return (
    `videobert-native: the platform package ${wanted} is not installed (npm skips optional dependencies with ` +
    `--omit=optional or --no-optional, and with some lockfiles made on another platform): run \`npm install ${wanted}\`, or ${BUILD_FROM_SOURCE}.`
  )
}

/** The platform packages the main package lists (its `optionalDependencies`). */
export function platformPackages(): string[] {
  try {
    const pkg = createRequire(import.meta.url)('../package.json') as { optionalDependencies?: Record<string, string> }
    return Object.keys(pkg.optionalDependencies ?? {})
  } catch {
    return []
  }
}

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
