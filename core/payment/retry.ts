import { setTimeout as sleep } from 'node:timers/promises'
import { GatewayUnavailableError } from './gateway.ts'

export interface GatewayRetryOptions {
  /** Calls in all, the first included. */
  tries: number
  /** First pause; doubles each time, with up to 50% jitter. */
  baseMs?: number
  /** Called before each call (to count attempts durably); returning false stops retrying. */
  beforeCall?: (call: number) => Promise<boolean | void>
}

/**
 * Calls the gateway again, with the same idempotency key, while it answers "unavailable" (timeout,
 * 5xx): the first request may have done the work, and the key makes the repeat return that work
 * instead of doing it twice. Any other error, or the last unavailable one, is thrown.
 */
export async function withGatewayRetries<T>(
  call: () => Promise<T>,
  { tries, baseMs = 200, beforeCall }: GatewayRetryOptions,
): Promise<T> {
  for (let i = 0; ; i++) {
    if ((await beforeCall?.(i)) === false) throw new GatewayUnavailableError('retry budget spent')
    try {
      return await call()
    } catch (error) {
      if (!(error instanceof GatewayUnavailableError) || i + 1 >= tries) throw error
      await sleep(baseMs * 2 ** i * (1 + Math.random() / 2))
    }
  }
}
