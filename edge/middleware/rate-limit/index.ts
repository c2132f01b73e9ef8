import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { HTTPException } from 'hono/http-exception'
import { apiError } from '../../http-error.ts'

export type RateLimitOptions = {
  /** Names the limit in the 429 message, e.g. `shopper` or `ip`. */
  name: string
  /** Requests allowed per second per key (also the burst). 0 or less: no limit. */
  perSecond: number | ((c: Context) => number)
  /** The key to count by; undefined skips the limit for this request. */
  key: (c: Context) => string | undefined
  /** Keys tracked at once before the oldest are forgotten. Default: 100,000. */
  maxKeys?: number
  /**
   * What to answer over the limit; default: throw `refusal` (429 `rate_limited` with `Retry-After`). A route can
   * still answer what costs nothing new, e.g. a retry that already has its answer.
   */
  onLimit?: (c: Context, refusal: HTTPException) => Response | Promise<Response>
  /** The clock, epoch ms. Default: `Date.now`. */
  now?: () => number
}

type Bucket = { tokens: number; at: number }

/**
 * Token bucket per key, in this edge instance's memory: `perSecond` requests per second, bursts of up to
 * `perSecond`. Over the limit: 429 `rate_limited` with `Retry-After` (whole seconds). Each Workers instance
 * counts on its own, so the limit is per instance (a shopper is pinned to a nearby colo in practice).
 *
 * @param options.name - limit name shown in the error message.
 * @param options.perSecond - rate per key (a number, or read from the request's env).
 * @param options.key - function returning the key (shopper id, client IP hash).
 * @example
 * ```ts
 * app.post('/redeem', rateLimit({ name: 'shopper', perSecond: 1, key: (c) => c.var.shopper }), handler)
 * ```
 */
export const rateLimit = ({
  name,
  perSecond,
  key,
  maxKeys = 100_000,
  onLimit,
  now: clock = () => Date.now(),
}: RateLimitOptions) => {
  const buckets = new Map<string, Bucket>()
  return createMiddleware(async function rateLimit(c, next) {
    const rate = typeof perSecond === 'function' ? perSecond(c) : perSecond
    const id = key(c)
    if (!(rate > 0) || id === undefined) return next()
    const now = clock()
    const bucket = buckets.get(id) ?? { tokens: rate, at: now }
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate)
    bucket.at = now
    if (bucket.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / rate))
      const refusal = apiError(
        'rate_limited',
        `too many requests for this ${name}: at most ${rate} per second`,
        undefined,
        {
          'retry-after': String(retryAfter),
        },
      )
      if (onLimit) return onLimit(c, refusal)
      throw refusal
    }
    bucket.tokens -= 1
    buckets.delete(id)
    buckets.set(id, bucket)
    if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!)
    return next()
  })
}
