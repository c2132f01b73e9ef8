import { createMiddleware } from 'hono/factory'

export type ReceivedAtVariables = {
  /** When this edge instance received the request, epoch ms: the time signed into the edge's receipt for core. */
  receivedAt: number
}

/**
 * Notes the moment the request arrived, before any other work on it (body reading, rate limits), so that the
 * time core judges a redeem by is the shopper's, not the time the edge got round to forwarding it.
 *
 * @param options.now - the clock. Default: `Date.now`.
 * @example
 * ```ts
 * app.post('/redeem', receivedAt(), session(), (c) => callCore(env, '/v1/redeem', { receipt: { at: c.var.receivedAt, ... } }))
 * ```
 */
export const receivedAt = ({ now = () => Date.now() }: { now?: () => number } = {}) =>
  createMiddleware<{ Variables: ReceivedAtVariables }>(async function receivedAt(c, next) {
    c.set('receivedAt', now())
    await next()
  })
