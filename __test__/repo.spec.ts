/**
 * The repository's own checks catch what they are for (npm test runs them on the real tree): the
 * doc-path check finds a cited file that does not exist, the cycle check finds an import cycle.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { tempDir } from './helpers.js'

const root = join(import.meta.dirname, '..')

describe('repository checks', () => {
  it('the doc-path check names a cited path that does not exist, and passes when it does', () => {
    const repo = tempDir('doc-paths')
    mkdirSync(join(repo, 'src'))
    writeFileSync(join(repo, 'src', 'real.ts'), '/** See src/real.ts and scripts/missing.sh. */\nexport const x = 1 // not src/in-code.ts\n')
    writeFileSync(join(repo, 'README.md'), 'Read `src/real.ts`, `src/gone.ts` and `crates/<name>/src` (a pattern).\n')
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'check-doc-paths.mjs'), repo], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split('\n').sort()).toEqual(['missing: README.md: src/gone.ts', 'missing: src/real.ts: scripts/missing.sh', 'missing: src/real.ts: src/in-code.ts'])
    writeFileSync(join(repo, 'README.md'), 'Read `src/real.ts`.\n')
    writeFileSync(join(repo, 'src', 'real.ts'), '/** See src/real.ts. */\nexport const x = 1\n')
    expect(spawnSync(process.execPath, [join(root, 'scripts', 'check-doc-paths.mjs'), repo], { encoding: 'utf8' }).status).toBe(0)
  })

  it('the doc-path check follows Markdown links: a missing page or heading fails', () => {
    const repo = tempDir('doc-links')
    mkdirSync(join(repo, 'docs'))
    writeFileSync(join(repo, 'docs', 'guide.md'), '# Guide\n\n## Your own videos (`tokenize`)\n\nBack to [the front page](../README.md#quick-start).\n')
    writeFileSync(join(repo, 'README.md'), '# X\n\n## Quick start\n\n[ok](docs/guide.md#your-own-videos-tokenize) [gone](docs/gone.md) [bad](docs/guide.md#nothing) [here](#quick-start)\n')
    const check = () => spawnSync(process.execPath, [join(root, 'scripts', 'check-doc-paths.mjs'), repo], { encoding: 'utf8' })
    const r = check()
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split('\n').sort()).toEqual(['missing: README.md: docs/gone.md', 'missing: README.md: link docs/gone.md', 'missing: README.md: link docs/guide.md#nothing (no such heading)'])
    writeFileSync(join(repo, 'README.md'), '# X\n\n## Quick start\n\n[ok](docs/guide.md#your-own-videos-tokenize) [here](#quick-start)\n')
    expect(check().status).toBe(0)
  })

  it('the run-output check fails on a tracked checkpoint or run directory, and passes on this repository', () => {
    const repo = tempDir('tracked')
    const git = (...args: string[]) => spawnSync('git', args, { cwd: repo, encoding: 'utf8' })
    git('init', '-q')
    mkdirSync(join(repo, 'runs', 'x', 'checkpoints', 'step-3'), { recursive: true })
    writeFileSync(join(repo, 'runs', 'x', 'checkpoints', 'step-3', 'model.safetensors'), 'x')
    writeFileSync(join(repo, 'kept.txt'), 'x')
    git('add', '-A')
    const check = (dir: string) => spawnSync(process.execPath, [join(root, 'scripts', 'check-run-outputs.mjs'), dir], { encoding: 'utf8' })
    const bad = check(repo)
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('run output tracked by git: runs/x/checkpoints/step-3/model.safetensors')
    git('rm', '-rq', '--cached', 'runs')
    expect(check(repo).status).toBe(0)
    const here = check(root)
    expect(here.status, here.stderr).toBe(0)
  })

  it('the cycle check fails on an import cycle', () => {
    const dir = tempDir('cycle')
    writeFileSync(join(dir, 'a.ts'), "import { b } from './b.js'\nexport const a = () => b\n")
    writeFileSync(join(dir, 'b.ts'), "import { a } from './a.js'\nexport const b = () => a\n")
    const r = spawnSync(join(root, 'node_modules', '.bin', 'dpdm'), ['--no-tree', '--no-warning', '--exit-code', 'circular:1', join(dir, 'a.ts')], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/a\.ts/)
  })
})
