/**
 * Every failure of videobert-native is a `VideoBertError` with a stable `code` — one of the native
 * `ErrorCode`s (the list: `ERROR_CODES`, from `native.ts`, which also converts native errors).
 */
// A type-only import (erased at run time): native.ts, the one importer of the generated loader,
// passes the generated `ErrorCode` on.
import type { ErrorCode } from './native.js'

export type { ErrorCode }

/**
 * The error every failure of the library throws or rejects with: `code` says what kind of failure
 * it is, `message` the details (the field, file or video concerned); `cause` holds the underlying
 * error (a native one, a file-system one) when there is one.
 */
export class VideoBertError extends Error {
  /** What kind of failure this is; stable across versions. */
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'VideoBertError'
    this.code = code
  }
}
