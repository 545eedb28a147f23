import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'

import { VideoBertError, type ErrorCode } from '../src/index.js'

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `videobert-${name}-`))
}

/** Assert that `work` rejects/throws a VideoBertError with `code` and a message matching `pattern`. */
export async function expectCode(work: () => unknown, code: ErrorCode, pattern?: RegExp): Promise<VideoBertError> {
  let caught: unknown
  try {
    await work()
  } catch (err) {
    caught = err
  }
  expect(caught, 'expected an error').toBeInstanceOf(VideoBertError)
  const err = caught as VideoBertError
  expect(err.code, err.message).toBe(code)
  if (pattern) expect(err.message).toMatch(pattern)
  return err
}
