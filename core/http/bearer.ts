import { timingSafeEqual } from 'node:crypto'
import { createMiddleware } from 'hono/factory'
import { ApiError } from '../errors/api-error.ts'

/** Requires `Authorization: Bearer <token>`, compared in constant time. */
export const requireBearer = (token: string) => {
  const expected = Buffer.from(token)
  return createMiddleware(async function requireBearer(c, next) {
    const given = Buffer.from((c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, ''))
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError('unauthorized', 'missing or wrong bearer token', undefined, { 'www-authenticate': 'Bearer' })
    }
    await next()
  })
}
