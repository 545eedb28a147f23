/**
 * Every failure of videobert-native is a `VideoBertError` with a stable `code` — one of the native
 * `ErrorCode`s (the list: `ERROR_CODES`, from `native.ts`, which also converts native errors).
 */
import type { ErrorCode } from '../index.js'

export type { ErrorCode }

export class VideoBertError extends Error {
  /** What kind of failure this is; stable across versions. */
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'VideoBertError'
    this.code = code
  }
}
