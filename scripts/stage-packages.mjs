#!/usr/bin/env node
// Stage the npm packages as they are published, the napi-rs way: one platform package per built
// binary (the .node, FFmpeg's build record and the licence notices) and the main package, whose
// optionalDependencies list every platform package of `napi.targets` at the main package's version.
// The repository's package.json has no optionalDependencies (they do not exist on the registry
// before a release, and `npm ci` would refuse the lockfile); they are written here only.
//
//   node scripts/stage-packages.mjs [--out DIR] [--artifacts DIR] [--pack]
//
// --artifacts DIR  one folder per platform, DIR/<platform>/{videobert-native.<platform>.node,
//                  BUILD-INFO.txt, licenses/} (what the release workflow uploads). Without it: the
//                  binaries in the repository root and the FFmpeg prefix they were linked with
//                  ($VIDEOBERT_FFMPEG_PREFIX_DIR, else target/ffmpeg-prefix from scripts/ffmpeg-env.sh).
// --out DIR        default target/npm; DIR/<package name>/ per package
// --pack           also `npm pack` each package into DIR (prints the tarball paths)
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { values: args } = parseArgs({ options: { out: { type: 'string' }, artifacts: { type: 'string' }, pack: { type: 'boolean' } } })
const out = resolve(args.out ?? join(root, 'target', 'npm'))
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'))
const writeJson = (p, v) => writeFileSync(p, `${JSON.stringify(v, null, 2)}\n`)
const fail = (msg) => {
  console.error(`stage-packages: ${msg}`)
  process.exit(1)
}

const main = readJson(join(root, 'package.json'))
const { version } = main
if (!existsSync(join(root, 'dist', 'platform.js'))) fail('dist/ is missing: run `npm run build` first')
const { platformOfTriple } = await import(join(root, 'dist', 'platform.js'))
const platforms = main.napi.targets.map(platformOfTriple)
for (const p of platforms) if (!existsSync(join(root, 'npm', p, 'package.json'))) fail(`npm/${p}/package.json is missing for target ${p}`)

// Which binaries there are.
const artifacts = new Map() // platform → { node, buildInfo, licenses }
if (args.artifacts) {
  for (const p of readdirSync(args.artifacts)) {
    const dir = join(args.artifacts, p)
    const node = join(dir, `videobert-native.${p}.node`)
    if (existsSync(node)) artifacts.set(p, { node, buildInfo: join(dir, 'BUILD-INFO.txt'), licenses: join(dir, 'licenses') })
  }
} else {
  const recorded = join(root, 'target', 'ffmpeg-prefix') // written by scripts/ffmpeg-env.sh
  const prefix = process.env.VIDEOBERT_FFMPEG_PREFIX_DIR ?? (existsSync(recorded) ? readFileSync(recorded, 'utf8').trim() : '')
  if (!prefix) fail('no FFmpeg prefix: build with `bash scripts/setup.sh` (static FFmpeg) first, or give --artifacts')
  for (const p of platforms) {
    const node = join(root, `videobert-native.${p}.node`)
    if (existsSync(node)) artifacts.set(p, { node, buildInfo: join(prefix, 'BUILD-INFO.txt'), licenses: join(prefix, 'share', 'licenses') })
  }
}
if (artifacts.size === 0) fail(`no built binary found (looked for videobert-native.<platform>.node for ${platforms.join(', ')})`)

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const staged = []

for (const [p, a] of artifacts) {
  for (const f of [a.buildInfo, a.licenses]) if (!existsSync(f)) fail(`${p}: ${f} is missing (a binary ships with its FFmpeg build record and licences)`)
  const pkg = readJson(join(root, 'npm', p, 'package.json'))
  const dir = join(out, pkg.name)
  mkdirSync(join(dir, 'licenses'), { recursive: true })
  cpSync(a.node, join(dir, pkg.main))
  cpSync(a.buildInfo, join(dir, 'FFMPEG-BUILD.txt'))
  cpSync(a.licenses, join(dir, 'licenses'), { recursive: true })
  cpSync(join(root, 'LICENSE'), join(dir, 'licenses', 'videobert-native-Apache-2.0.txt'))
  cpSync(join(root, 'npm', p, 'README.md'), join(dir, 'README.md'))
  writeJson(join(dir, 'package.json'), { ...pkg, version })
  staged.push(dir)
}

// The main package: the repository's files list, plus the optional platform packages.
const mainDir = join(out, main.name)
mkdirSync(mainDir, { recursive: true })
for (const f of main.files) {
  if (f.includes('*')) fail(`package.json "files" entry ${f}: list files by name (a glob would ship a local build)`)
  if (!existsSync(join(root, f))) fail(`${f} is missing: run \`npm run build\` first`)
  cpSync(join(root, f), join(mainDir, f), { recursive: true })
}
const optionalDependencies = Object.fromEntries(platforms.map((p) => [readJson(join(root, 'npm', p, 'package.json')).name, version]))
const { scripts: _scripts, devDependencies: _dev, ...published } = main
writeJson(join(mainDir, 'package.json'), { ...published, optionalDependencies })
staged.push(mainDir)

for (const dir of staged) {
  if (args.pack) {
    const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop()
    console.log(join(out, name))
  } else {
    console.log(dir)
  }
}
