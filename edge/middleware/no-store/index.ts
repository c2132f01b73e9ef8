import { createMiddleware } from 'hono/factory'

/**
 * `Cache-Control: no-store` on every answer that does not choose its own: shopper answers carry purchase tokens,
 * grants and queue tickets, which no shared or browser cache may keep. Errors included.
 */
export const noStore = () =>
  createMiddleware(async function noStore(c, next) {
    await next()
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store')
  })
