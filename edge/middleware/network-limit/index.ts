import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { apiError } from '../../http-error.ts'
import { rateLimit } from '../rate-limit/index.ts'

export type NetworkLimitOptions = {
  /** Names the limit in the 429 message. */
  name: string
  /** The client's network (edge/client-network.ts); undefined skips the limit. */
  key: (c: Context) => string | undefined
  /** The Workers Rate Limiting binding, when deployed with one (wrangler.toml `[[ratelimits]]`). */
  binding: (c: Context) => RateLimit | undefined
  /** Requests per second per network for the in-memory limit used without a binding; 0 or less: none. */
  perSecond: number | ((c: Context) => number)
  /** The clock of the in-memory limit. Default: `Date.now`. */
  now?: () => number
}

/**
 * Limits requests per client network. Deployed, the Workers Rate Limiting binding counts per Cloudflare
 * location (shared by the instances there, unlike memory); without one (Miniflare, tests) a token bucket in this
 * instance's memory does the same job. Over the limit: 429 `rate_limited` with `Retry-After`.
 *
 * @example
 * ```ts
 * app.post('/join', networkLimit({ name: 'network', key: clientNetwork, binding: (c) => c.env.LIMITER, perSecond: 20 }))
 * ```
 */
export const networkLimit = ({ name, key, binding, perSecond, now }: NetworkLimitOptions) => {
  const local = rateLimit({ name, key, perSecond, ...(now ? { now } : {}) })
  return createMiddleware(async function networkLimit(c, next) {
    const limiter = binding(c)
    if (!limiter) return local(c, next)
    const id = key(c)
    if (id === undefined) return next()
    const { success } = await limiter.limit({ key: id })
    if (!success) {
      throw apiError('rate_limited', `too many requests from this ${name}: slow down`, undefined, {
        'retry-after': '10',
      })
    }
    await next()
  })
}
