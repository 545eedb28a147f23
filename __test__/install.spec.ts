/**
 * What a user's install depends on: the binary that ships (its dynamic dependencies), the platform
 * package names, and one clear line — never a stack trace — when the binary is missing, is for
 * another platform, or does not load.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { explainLoadFailure, platformName, platformOfTriple, platformPackages } from '../src/platform.js'
import { tempDir } from './helpers.js'

const root = join(import.meta.dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** An error chain shaped as napi's loader builds it: the last candidate first, each `cause` the one before. */
function napiError(...messages: string[]): Error {
  const chain = messages.reduce<Error | null>((prev, m) => Object.assign(new Error(m), { cause: prev }), null)
  return Object.assign(new Error('Cannot find native binding. npm has a bug related to optional dependencies'), { cause: chain })
}

describe('platform packages', () => {
  it('one per napi target, named as the npm/ folders, every version in step with the main package and the crates', () => {
    expect(platformPackages()).toEqual(['videobert-native-linux-x64-gnu', 'videobert-native-linux-arm64-gnu', 'videobert-native-darwin-x64', 'videobert-native-darwin-arm64', 'videobert-native-win32-x64-msvc'])
    expect(readdirSync(join(root, 'npm')).sort()).toEqual(pkg.napi.targets.map(platformOfTriple).sort())
    for (const t of pkg.napi.targets as string[]) {
      const p = JSON.parse(readFileSync(join(root, 'npm', platformOfTriple(t), 'package.json'), 'utf8'))
      expect(p.name).toBe(`videobert-native-${platformOfTriple(t)}`)
      expect(p.version).toBe(pkg.version)
      expect(p.main).toBe(`videobert-native.${platformOfTriple(t)}.node`)
      expect(p.license).toBe('Apache-2.0 AND LGPL-2.1-or-later AND BSD-2-Clause AND Zlib')
      expect(p.files).toEqual(expect.arrayContaining([p.main, 'FFMPEG-BUILD.txt', 'licenses']))
    }
    const cargo = readFileSync(join(root, 'Cargo.toml'), 'utf8')
    expect(/\[workspace\.package\]\s*\nversion = "([^"]+)"/.exec(cargo)![1]).toBe(pkg.version)
    // The repository's main package ships no binary (the platform packages do) and lists no
    // optionalDependencies (scripts/stage-packages.mjs adds them for publishing).
    expect(pkg.files.some((f: string) => f.includes('.node'))).toBe(false)
    expect(pkg.optionalDependencies).toBeUndefined()
  })

  it('platform names follow napi: libc on Linux, msvc on Windows', () => {
    expect(platformName('linux', 'x64')).toBe('linux-x64-gnu')
    expect(platformName('linux', 'arm64', true)).toBe('linux-arm64-musl')
    expect(platformName('darwin', 'arm64')).toBe('darwin-arm64')
    expect(platformName('win32', 'x64')).toBe('win32-x64-msvc')
    expect(platformOfTriple('aarch64-apple-darwin')).toBe('darwin-arm64')
    expect(platformOfTriple('x86_64-pc-windows-msvc')).toBe('win32-x64-msvc')
  })
})

describe('when the binary does not load, the message names the cause', () => {
  const packages = platformPackages()

  it('a shared library the binary links is missing (what a system-FFmpeg build does on another machine)', () => {
    const msg = explainLoadFailure(
      napiError(
        'libavutil.so.57: cannot open shared object file: No such file or directory',
        "Cannot find module 'videobert-native-linux-x64-gnu'\nRequire stack:\n- /x/index.js",
        "Cannot find module './videobert-native.wasi.cjs'",
      ),
      packages,
      'linux-x64-gnu',
    )
    expect(msg).toContain('libavutil.so.57: cannot open shared object file')
    expect(msg).toContain('a shared library it links is missing')
    expect(msg).toContain('scripts/setup.sh')
    expect(msg).not.toContain('npm has a bug')
    expect(msg.split('\n')).toHaveLength(1)
  })

  it('too old a C library', () => {
    const msg = explainLoadFailure(napiError("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by /x/videobert-native.linux-x64-gnu.node)"), packages, 'linux-x64-gnu')
    expect(msg).toMatch(/newer C library/)
    expect(msg).toContain('GLIBC_2.34')
  })

  it('the platform package is not installed', () => {
    const msg = explainLoadFailure(napiError("Cannot find module './videobert-native.linux-x64-gnu.node'", "Cannot find module 'videobert-native-linux-x64-gnu'"), packages, 'linux-x64-gnu')
    expect(msg).toMatch(/platform package videobert-native-linux-x64-gnu is not installed/)
    expect(msg).toContain('npm install videobert-native-linux-x64-gnu')
  })

  it('a platform without a prebuilt binary', () => {
    const msg = explainLoadFailure(napiError('Unsupported architecture on Linux: mips'), packages, 'linux-mips-gnu')
    expect(msg).toMatch(/no prebuilt binary for linux-mips-gnu \(prebuilt: linux-x64-gnu, linux-arm64-gnu, darwin-x64, darwin-arm64, win32-x64-msvc\)/)
  })

  /** The package's JS (dist/, index.js, package.json) in a folder of its own, without the build's .node. */
  function bareCopy(name: string): string {
    const dir = tempDir(name)
    for (const f of ['dist', 'index.js', 'package.json']) cpSync(join(root, f), join(dir, f), { recursive: true })
    return dir
  }
  const cli = (dir: string, preload?: string) =>
    spawnSync(process.execPath, [...(preload ? ['--import', preload] : []), join(dir, 'dist', 'cli', 'main.js'), '--help'], { encoding: 'utf8', cwd: dir })

  it('the CLI on a platform with no package: one line, exit 1 (a real process with process.arch faked)', () => {
    const dir = bareCopy('riscv')
    const preload = join(dir, 'fake-arch.mjs')
    writeFileSync(preload, "Object.defineProperty(process, 'arch', { value: 'riscv64' })\n")
    const r = cli(dir, preload)
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^videobert: videobert-native has no prebuilt binary for linux-riscv64-gnu \(prebuilt: linux-x64-gnu, .*\); to build from source/)])
  })

  it('the CLI with a binary that is not a loadable library: one line naming the loader error, exit 1', () => {
    const dir = bareCopy('broken')
    writeFileSync(join(dir, `videobert-native.${platformName()}.node`), 'not an ELF file')
    const r = cli(dir)
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/failed to load \(the binary does not load here\): .*(invalid ELF header|file too short|not a valid)/)])
  })

  it('the library import throws a VideoBertError with the code NativeBinding', () => {
    const dir = bareCopy('import')
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(join(dir, 'dist', 'index.js'))}).catch((e) => { console.log(JSON.stringify({ name: e.name, code: e.code })) })`], { encoding: 'utf8' })
    expect(JSON.parse(r.stdout)).toEqual({ name: 'VideoBertError', code: 'NativeBinding' })
  })
})

describe('the shipped binary', () => {
  const node = join(root, `videobert-native.${platformName()}.node`)
  const mode = process.env.VIDEOBERT_FFMPEG ?? 'static'
  const readelf = (...args: string[]) => execFileSync('readelf', [...args, node], { encoding: 'utf8' })

  it.runIf(process.platform === 'linux')('links only the C runtime (static FFmpeg), or the system FFmpeg when built with VIDEOBERT_FFMPEG=system', () => {
    const needed = [...readelf('-d').matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!)
    expect(needed.length).toBeGreaterThan(0)
    if (mode === 'static') {
      // glibc's own libraries (librt: clock_gettime before glibc 2.17; ld-linux: __tls_get_addr) and gcc's unwinder.
      const allowed = /^(libc|libm|libpthread|libdl|librt|libgcc_s|ld-linux-x86-64|ld-linux-aarch64)\.so\.\d+$/
      expect(needed.filter((n) => !allowed.test(n)), `NEEDED: ${needed.join(', ')}`).toEqual([])
    } else {
      expect(needed).toEqual(expect.arrayContaining([expect.stringMatching(/^libavcodec\.so\./)]))
    }
    const glibc = [...readelf('--dyn-syms', '-W').matchAll(/@GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const)
    const [major, minor] = glibc.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a), [0, 0] as const)
    // The floor the binary sets for users (docs/installing.md, "Install"). Built with the glibc-2.17 toolchain
    // (scripts/glibc-toolchain.sh, the default for static builds) it runs on glibc 2.17 and later.
    console.log(`highest GLIBC symbol version: ${major}.${minor}; NEEDED: ${needed.join(', ')}`)
    expect(major).toBe(2)
    if (mode === 'static' && process.env.VIDEOBERT_GLIBC_TOOLCHAIN !== '0') expect(minor).toBeLessThanOrEqual(17)
  })
})
