/**
 * Which prebuilt binary this machine needs, and why one did not load. Pure functions, no native
 * code: `native.ts` uses them when the addon fails to load, scripts/stage-packages.mjs to name the
 * platform packages.
 */
import { createRequire } from 'node:module'

const BUILD_FROM_SOURCE =
  'to build from source (Rust and a C toolchain needed): git clone the repository, then `bash scripts/setup.sh` (see docs/installing.md, "Building from source")'

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

/** napi target triple → platform name (`x86_64-unknown-linux-gnu` → `linux-x64-gnu`). */
export function platformOfTriple(triple: string): string {
  const [arch = '', , os = '', abi = ''] = triple.split('-')
  const cpu = ({ x86_64: 'x64', aarch64: 'arm64', i686: 'ia32' } as Record<string, string>)[arch] ?? arch
  return os === 'darwin' ? `darwin-${cpu}` : os === 'windows' ? `win32-${cpu}-${abi}` : `${os}-${cpu}-${abi}`
}

/**
 * The platform packages there are: one per `napi.targets` entry of package.json (the published
 * package lists the same ones as `optionalDependencies`; scripts/stage-packages.mjs writes them).
 */
export function platformPackages(): string[] {
  try {
    const pkg = createRequire(import.meta.url)('../package.json') as { napi?: { targets?: string[] } }
    return (pkg.napi?.targets ?? []).map((t) => `videobert-native-${platformOfTriple(t)}`)
  } catch {
    return []
  }
}
