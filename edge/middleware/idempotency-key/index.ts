import { createMiddleware } from 'hono/factory'
import { HEADER_IDEMPOTENCY_KEY, IdempotencyKey } from '../../../contracts/index.ts'
import { apiError } from '../../http-error.ts'

export type IdempotencyKeyOptions = {
  /** Header to read. Default: `idempotency-key`. */
  header?: string
}

export type IdempotencyKeyVariables = { idempotencyKey: string }

/**
 * Requires an idempotency key header: missing is 400 `missing_idempotency_key`, malformed is 400
 * `invalid_idempotency_key`. The key lands on `c.var.idempotencyKey`.
 *
 * @param options.header - header name. Default: `idempotency-key`.
 * @example
 * ```ts
 * app.post('/api/sales/:saleId/redeem', idempotencyKey(), (c) => c.json({ key: c.var.idempotencyKey }))
 * ```
 */
export const idempotencyKey = ({ header = HEADER_IDEMPOTENCY_KEY }: IdempotencyKeyOptions = {}) =>
  createMiddleware<{ Variables: IdempotencyKeyVariables }>(async function idempotencyKey(c, next) {
    const value = c.req.header(header)
    if (value === undefined || value === '') {
      throw apiError('missing_idempotency_key', `send an ${header} header, unique per purchase attempt`, header)
    }
    const parsed = IdempotencyKey.safeParse(value)
    if (!parsed.success)
      throw apiError('invalid_idempotency_key', `${header}: ${parsed.error.issues[0]?.message}`, header)
    c.set('idempotencyKey', parsed.data)
    await next()
  })
