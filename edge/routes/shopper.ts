import { Hono, type Context } from 'hono'
import {
  HEADER_IDEMPOTENCY_KEY,
  HEADER_SESSION,
  OrderId,
  peekPurchaseToken,
  RedeemRequest,
  SaleId,
} from '../../contracts/index.ts'
import { callCore, passThrough } from '../core.ts'
import type { AppEnv } from '../env.ts'
import { apiError } from '../http-error.ts'
import { idempotencyKey } from '../middleware/idempotency-key/index.ts'
import { jsonBody } from '../middleware/json-body/index.ts'
import { pathParams } from '../middleware/path-params/index.ts'
import { session } from '../middleware/session/index.ts'
import { roomOf, unwrap } from '../rooms.ts'

/** Catalog data may be this stale at the edge. */
export const SALE_CACHE_SECONDS = 2

const saleParams = pathParams({ saleId: SaleId })

/** Runs `promise` after the response when the platform allows it (Workers), else waits for it. */
async function afterResponse(c: Context, promise: Promise<unknown>): Promise<void> {
  let ctx: ExecutionContext | undefined
  try {
    ctx = c.executionCtx as ExecutionContext
  } catch {
    ctx = undefined
  }
  if (ctx) ctx.waitUntil(promise)
  else await promise
}

export const shopperRoutes = new Hono<AppEnv>()
  /** Public sale data from core, cached at the edge for SALE_CACHE_SECONDS (200s only). */
  .get('/sales/:saleId', saleParams, async (c) => {
    const saleId = c.req.param('saleId')
    const key = new Request(new URL(`/api/sales/${saleId}`, c.req.url).toString())
    const headers = { 'content-type': 'application/json', 'cache-control': `public, max-age=${SALE_CACHE_SECONDS}` }
    const hit = await caches.default.match(key)
    if (hit) return new Response(hit.body, { status: 200, headers: { ...headers, 'x-floodgate-cache': 'hit' } })
    const res = await callCore(c.env, `/v1/sales/${saleId}`)
    if (res.status !== 200) return passThrough(res)
    const body = await res.text()
    await afterResponse(c, caches.default.put(key, new Response(body, { status: 200, headers })))
    return new Response(body, { status: 200, headers: { ...headers, 'x-floodgate-cache': 'miss' } })
  })
  .post('/sales/:saleId/join', saleParams, session({ missing: 'create' }), async (c) => {
    const saleId = c.req.param('saleId')
    const status = unwrap(await roomOf(c.env, saleId).join(saleId, c.var.shopper))
    return c.json({ ...status, session: c.var.session })
  })
  .get('/sales/:saleId/status', saleParams, session(), async (c) => {
    const saleId = c.req.param('saleId')
    return c.json(unwrap(await roomOf(c.env, saleId).status(saleId, c.var.shopper)))
  })
  .post('/sales/:saleId/redeem', saleParams, session(), idempotencyKey(), jsonBody({ schema: RedeemRequest }), async (c) => {
    const saleId = c.req.param('saleId')
    const sale = peekPurchaseToken(c.var.body.token)?.sale
    // A token core cannot parse is core's to reject (token_malformed); one for another sale is caught here.
    if (sale !== undefined && sale !== saleId) {
      throw apiError('token_wrong_sale', `this token is for sale ${sale}, not ${saleId}`, 'token')
    }
    const res = await callCore(c.env, '/v1/redeem', {
      method: 'POST',
      headers: {
        [HEADER_SESSION]: c.var.session,
        [HEADER_IDEMPOTENCY_KEY]: c.var.idempotencyKey,
        'content-type': 'application/json',
      },
      body: JSON.stringify(c.var.body),
    })
    return passThrough(res)
  })
  .get('/orders/:orderId', pathParams({ orderId: OrderId }), session(), async (c) => {
    const waitMs = c.req.query('waitMs')
    const query = waitMs === undefined ? '' : `?waitMs=${encodeURIComponent(waitMs)}`
    const res = await callCore(c.env, `/v1/orders/${c.req.param('orderId')}${query}`, {
      headers: { [HEADER_SESSION]: c.var.session },
    })
    return passThrough(res)
  })
