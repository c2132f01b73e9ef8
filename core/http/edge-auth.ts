import { createMiddleware } from 'hono/factory'
import type { Context } from 'hono'
import { HEADER_EDGE_RECEIPT, verifyEdgeCall, type EdgeCallVerdict } from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'

const EDGE_CALL = 'edgeCall' as never

/** The verdict `requireEdge` reached for this request (a route under it reads the receipt from here). */
export function edgeCallOf(c: Context): EdgeCallVerdict {
  const verdict = c.get(EDGE_CALL) as EdgeCallVerdict | undefined
  if (!verdict) throw new Error('edgeCallOf: the route is not behind requireEdge')
  return verdict
}

/**
 * Core's shopper API (`/v1/*`) answers only the edge: every call carries the edge's receipt
 * (contracts/edge-receipt.ts), signed with CORE_INTERNAL_TOKEN and naming this method and path. A client that
 * reaches core directly would skip the edge's rate limits and the operator's holds; it gets 401.
 *
 * @param secret - the service credential edge and core share (CORE_INTERNAL_TOKEN).
 * @param now - the clock (epoch ms). Default: `Date.now`.
 */
export const requireEdge = (secret: string, now: () => number = Date.now) =>
  createMiddleware(async function requireEdge(c, next) {
    const verdict = await verifyEdgeCall(c.req.header(HEADER_EDGE_RECEIPT), secret, {
      // The path as sent (percent-encoded), which is what the edge signed; Hono's `c.req.path` is decoded.
      req: `${c.req.method} ${new URL(c.req.url).pathname}`,
      nowMs: now(),
    })
    c.set(EDGE_CALL, verdict)
    if (!verdict.ok) {
      const why = c.req.header(HEADER_EDGE_RECEIPT) === undefined ? 'missing' : verdict.code.replace('receipt_', '')
      throw new ApiError(
        'unauthorized',
        `core's shopper API answers the edge only (edge receipt ${why})`,
        HEADER_EDGE_RECEIPT,
      )
    }
    await next()
  })
