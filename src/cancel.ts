/** Wire an AbortSignal to a native CancelToken for the duration of one call. */
import { VideoBertError } from './errors.js'
import { CancelToken } from './native.js'

export async function withSignal<T>(signal: AbortSignal | undefined, work: (token: CancelToken) => Promise<T>): Promise<T> {
  const token = new CancelToken()
  if (signal?.aborted) throw new VideoBertError('Cancelled', 'cancelled before it started')
  const onAbort = () => token.cancel()
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    return await work(token)
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}
