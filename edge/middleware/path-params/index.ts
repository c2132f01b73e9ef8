import { createMiddleware } from 'hono/factory'
import type { z } from 'zod'
import { apiError } from '../../http-error.ts'

export type PathParamsOptions = Record<string, z.ZodType<string>>

/**
 * Validates route parameters before the handler runs: the first one that fails its schema is a
 * 400 `invalid_path` naming the parameter in `field`.
 *
 * @param schemas - one zod schema per parameter name.
 * @example
 * ```ts
 * app.get('/api/sales/:saleId', pathParams({ saleId: SaleId }), (c) => c.text(c.req.param('saleId')))
 * ```
 */
export const pathParams = (schemas: PathParamsOptions) => {
  const entries = Object.entries(schemas)
  return createMiddleware(async function pathParams(c, next) {
    for (const [name, schema] of entries) {
      const parsed = schema.safeParse(c.req.param(name))
      if (!parsed.success) throw apiError('invalid_path', `${name}: ${parsed.error.issues[0]?.message}`, name)
    }
    await next()
  })
}
