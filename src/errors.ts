/**
 * Every failure of videobert-native is a `VideoBertError` with a stable `code`.
 * Native errors arrive as `"<Code>: <message>"`; `fromNative` is the one place they are converted.
 */
import type { ErrorCode } from '../index.js'

export type { ErrorCode }

/** All codes, in the order of the native `ErrorCode` enum. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'InvalidConfig',
  'UnknownPreset',
  'InvalidInput',
  'Checkpoint',
  'Io',
  'Numerical',
  'Decode',
  'NoVideoStream',
  'Cancelled',
  'Internal',
  'NativeBinding',
]

export class VideoBertError extends Error {
  /** What kind of failure this is; stable across versions. */
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'VideoBertError'
    this.code = code
  }
}

const PREFIX = /^([A-Za-z]+): ([\s\S]*)$/

/** Convert anything thrown by the native addon into a `VideoBertError`. */
export function fromNative(err: unknown): VideoBertError {
  if (err instanceof VideoBertError) return err
  const message = err instanceof Error ? err.message : String(err)
  const m = PREFIX.exec(message)
  if (m && (ERROR_CODES as readonly string[]).includes(m[1]!)) {
    return new VideoBertError(m[1] as ErrorCode, m[2]!, { cause: err })
  }
  // napi's own argument conversion (e.g. a string where a typed array belongs).
  const napiCode = (err as { code?: unknown } | null)?.code
  if (napiCode === 'InvalidArg' || napiCode === 'NumberExpected' || napiCode === 'ObjectExpected') {
    return new VideoBertError('InvalidInput', message, { cause: err })
  }
  return new VideoBertError('Internal', message, { cause: err })
}

/** Await a native promise (or call) and convert its failure. */
export async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    throw fromNative(err)
  }
}

export function guardSync<T>(work: () => T): T {
  try {
    return work()
  } catch (err) {
    throw fromNative(err)
  }
}
