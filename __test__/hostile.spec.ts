/**
 * The hostile-file matrix (`scripts/hostile-files.mjs`, the table in docs/limits.md): every input ends in
 * its coded error (or is harmless by design) in a child process of its own — none aborts, none is
 * killed — and none needs more than a few hundred MiB.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

it('every hostile input is a coded error in bounded memory, never an abort', () => {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'scripts', 'hostile-files.mjs')], { encoding: 'utf8', timeout: 300_000 })
  expect(r.status, r.stderr).toBe(0)
  const rows = r.stdout
    .trim()
    .split('\n')
    .slice(2)
    .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| |`| \|$/g, '')))
  const codes = Object.fromEntries(rows.map(([input, code]) => [input!.replace(/`/g, ''), code]))
  expect(Object.values(codes)).toEqual([
    'InvalidConfig', 'InvalidConfig', 'InvalidConfig', 'InvalidInput', 'InvalidConfig', 'Checkpoint', 'Checkpoint', 'Checkpoint', 'Checkpoint', 'Checkpoint', 'ok', 'InvalidInput',
    'InvalidInput', 'InvalidInput', 'InvalidInput', 'Decode', 'Decode',
  ])
  for (const [input, , rss] of rows) expect(Number.parseFloat(rss!), input).toBeLessThan(400)
}, 300_000)
