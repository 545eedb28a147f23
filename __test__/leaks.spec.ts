/**
 * Memory stays flat over long runs (`scripts/leak-check.mjs`, the figures in docs/pretraining.md): the growth of
 * RSS per inference call and per train step, a least-squares slope after a warm-up, stays under
 * 2 KiB (a leak of one batch's tensors per call would be ~100 KiB).
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

it('RSS is flat over 3000 inference calls and 1000 train steps', () => {
  const script = join(import.meta.dirname, '..', 'scripts', 'leak-check.mjs')
  const r = spawnSync(process.execPath, [script, '--calls', '3000', '--steps', '1000', '--bound', '2048'], { encoding: 'utf8', timeout: 300_000 })
  expect(r.status, r.stderr + r.stdout).toBe(0)
  const s = JSON.parse(r.stdout) as { ok: boolean; inference: { bytesPerUnit: number }; training: { bytesPerUnit: number } }
  expect(s.ok).toBe(true)
  expect(s.inference.bytesPerUnit).toBeLessThan(2048)
  expect(s.training.bytesPerUnit).toBeLessThan(2048)
}, 300_000)
