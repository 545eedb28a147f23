#!/usr/bin/env node
// Every repository path the docs cite must exist: the README and the other Markdown files, and the
// comments of the TypeScript, Rust and shell sources. A path is a word that starts with one of the
// repository's top-level folders (`src/…`, `crates/…`, `scripts/…`, …) or names a top-level file.
// Build outputs (dist/, target/, node_modules/) and patterns (`*`, `<name>`, `{a,b}`, `NNNNN`) are
// not checked. Markdown links to repository files (`[text](docs/formats.md#containers)`) must lead to a
// file that exists and, with an anchor, to one of its headings. Exit code 1 and one line per miss.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

// The repository root (an argument for the checker's own test).
const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..')
const TOP = ['src', 'crates', 'scripts', 'benches', '__test__', 'npm', 'examples', 'docs', '.github', '.ci']
const TOP_FILES = ['README.md', 'Cargo.toml', 'Cargo.lock', 'package.json', 'package-lock.json', 'index.js', 'index.d.ts', 'LICENSE', 'rustfmt.toml', 'tsconfig.json', 'vitest.config.ts']
const SKIP_DIRS = new Set(['node_modules', 'target', 'dist', '.git', '.bench-dist', 'fixtures', 'videobert-demo'])
/** Folders the scripts create (git-ignored), cited as where their output goes. */
const GENERATED = ['benches/.data', 'docs/api']

function files(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) files(p, out)
    else if (/\.(md|ts|mjs|rs|sh)$/.test(name) || name === 'run') out.push(p)
  }
  return out
}

/** The parts of a source file that are documentation: comments (and all of a Markdown file). */
function docText(path, text) {
  if (path.endsWith('.md')) return text
  const lines = text.split('\n')
  if (path.endsWith('.sh') || path.endsWith('run')) return lines.filter((l) => /^\s*#/.test(l)).join('\n')
  // //, ///, //!, and /* … */ blocks (JSDoc included).
  const out = []
  let inBlock = false
  for (const l of lines) {
    if (inBlock) {
      out.push(l)
      if (l.includes('*/')) inBlock = false
      continue
    }
    const i = l.indexOf('//')
    if (i >= 0 && !/['"`][^'"`]*\/\//.test(l.slice(0, i + 2))) out.push(l.slice(i))
    if (/^\s*\/\*/.test(l)) {
      out.push(l)
      inBlock = !l.includes('*/')
    }
  }
  return out.join('\n')
}

const pathRe = new RegExp(`(?<![\\w./-])((?:${TOP.map((t) => t.replace('.', '\\.')).join('|')})/[\\w./@+-]*[\\w/]|(?:${TOP_FILES.map((f) => f.replace(/\./g, '\\.')).join('|')}))(?![\\w-])`, 'g')
const missing = []
const sources = files(root)
for (const file of new Set(sources)) {
  const text = docText(file, readFileSync(file, 'utf8'))
  for (const m of text.matchAll(pathRe)) {
    const cited = m[1].replace(/[/.]+$/, '')
    if (/[*<>{}]|NNNN|\$/.test(cited) || GENERATED.some((g) => cited.startsWith(g))) continue
    if (!existsSync(join(root, cited))) missing.push(`${relative(root, file)}: ${cited}`)
  }
}
/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (h) => h.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-')
function anchors(file) {
  const out = new Set()
  let fence = false
  for (const l of readFileSync(file, 'utf8').split('\n')) {
    if (l.startsWith('```')) fence = !fence
    const h = !fence && /^#{1,6} (.*)$/.exec(l)
    if (h) out.add(slug(h[1]))
  }
  return out
}
for (const file of sources.filter((f) => f.endsWith('.md'))) {
  for (const m of readFileSync(file, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
    const [target, anchor] = m[1].split('#')
    if (/^[a-z]+:/.test(target)) continue // http:, https:, mailto:
    const dest = target === '' ? file : join(dirname(file), target)
    if (GENERATED.some((g) => relative(root, dest).startsWith(g))) continue
    if (!existsSync(dest)) missing.push(`${relative(root, file)}: link ${m[1]}`)
    else if (anchor && dest.endsWith('.md') && !anchors(dest).has(anchor)) missing.push(`${relative(root, file)}: link ${m[1]} (no such heading)`)
  }
}
if (missing.length) {
  for (const m of new Set(missing)) console.error(`missing: ${m}`)
  process.exit(1)
}
console.log(`doc paths: every cited path exists (${sources.length} files read)`)
