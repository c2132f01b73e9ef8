import type { Context } from 'hono'
import { HEADER_IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_PATTERN } from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'

/** The request's Idempotency-Key: 400 `missing_idempotency_key` or `invalid_idempotency_key` naming the header. */
export function idempotencyKeyOf(c: Context): string {
  const key = c.req.header(HEADER_IDEMPOTENCY_KEY)
  if (!key) {
    throw new ApiError(
      'missing_idempotency_key',
      'send an Idempotency-Key header, the same on every retry',
      'idempotency-key',
    )
  }
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    const rule = 'Idempotency-Key must be 8-255 chars of A-Z, a-z, 0-9 and _ . : -'
    throw new ApiError('invalid_idempotency_key', rule, 'idempotency-key')
  }
  return key
}
