import { Hono, type MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import {
  CheckoutHoldRequest,
  CreateSaleRequest,
  ExpireGrantsRequest,
  HEADER_REPLAY_ONLY,
  HEADER_SESSION,
  MAX_ADMIN_BODY_BYTES,
  MAX_BODY_BYTES,
  ORDER_ID_PATTERN,
  OrderQuery,
  ReconcileJobName,
  RedeemRequest,
  RefundRequest,
  SALE_ID_PATTERN,
  SaleOrdersQuery,
  SESSION_PATTERN,
  describeZodError,
  errorBody,
  shopperOf,
  shopperOfAccount,
  honouredTime,
  boundReceipt,
  type ExpireGrantsResponse,
} from '../contracts/index.ts'
import type { Accounts } from './account/accounts.ts'
import type { CoreConfig } from './config.ts'
import { ApiError } from './errors/api-error.ts'
import { requireBearer } from './http/bearer.ts'
import { edgeCallOf, requireEdge } from './http/edge-auth.ts'
import { idempotencyKeyOf } from './http/idempotency-key.ts'
import { readBodyText, readJson } from './http/json-body.ts'
import { GatewayUnavailableError } from './payment/gateway.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'
import type { OrderSettledFeed } from './order/order-settled-feed.ts'
import type { Orders } from './order/orders.ts'
import type { Redeemer } from './redeem/redeem.ts'
import type { Scripts } from './redis/scripts.ts'
import type { Sales } from './sale/sales.ts'
import type { Payments } from './payment/payments.ts'
import type { StripeWebhook } from './payment/stripe-webhook.ts'
import type { Reconciler } from './reconcile/reconciler.ts'

export interface AppDeps {
  config: Pick<CoreConfig, 'CORE_ADMIN_TOKEN' | 'CORE_INTERNAL_TOKEN' | 'METRICS_TOKEN'>
  sales: Sales
  orders: Orders
  orderFeed: OrderSettledFeed
  redeemer: Redeemer
  scripts: Scripts
  metrics: Metrics
  logger: Logger
  payments: Payments
  reconciler: Reconciler
  /** Present when STRIPE_WEBHOOK_SECRET is set. */
  stripeWebhook?: StripeWebhook
  /** Verifies the access token of a signed-in shopper (forwarded by the edge): its account is its shopper. */
  accounts?: Pick<Accounts, 'authenticate'>
  /** Who may call /admin/*: default the static CORE_ADMIN_TOKEN; core passes "that token or an operator's". */
  operatorAuth?: MiddlewareHandler
  /** Domain sub-apps mounted at the root (catalog, search). */
  routes?: Hono[]
  health: () => Promise<Record<string, boolean>>
}

/** Connection-level failures of Postgres or Redis (down, restarting, cut): the client should retry, not give up. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
])
function isUnreachable(error: Error): boolean {
  const code = (error as { code?: string }).code
  return (
    (code !== undefined && UNREACHABLE_CODES.has(code)) ||
    /Connection terminated|connection timeout|Connection is closed/i.test(error.message)
  )
}

/** Stripe events are small; anything this large is not one. */
const MAX_WEBHOOK_BYTES = 512 * 1024

function saleIdParam(value: string): string {
  if (!SALE_ID_PATTERN.test(value))
    throw new ApiError('invalid_path', 'sale id must be 1-63 chars of a-z, 0-9 and "-"', 'saleId')
  return value
}

function sessionHeader(value: string | undefined): string {
  if (!value)
    throw new ApiError('missing_session', `send the shopper session in the ${HEADER_SESSION} header`, HEADER_SESSION)
  if (!SESSION_PATTERN.test(value))
    throw new ApiError('invalid_session', 'session must be 16-128 base64url chars', HEADER_SESSION)
  return value
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono()
  const { sales, orders, redeemer, scripts, metrics, logger } = deps

  /** A signed-in shopper is its account (every session of it one shopper), a signed-out one its session. */
  const shopperOfCall = async (authorization: string | undefined, sessionId: string): Promise<string> => {
    if (authorization === undefined || !deps.accounts) return shopperOf(sessionId)
    return shopperOfAccount((await deps.accounts.authenticate(authorization)).sub)
  }

  app.onError((error, c) => {
    if (error instanceof ApiError) {
      return c.json(errorBody(error.code, error.message, error.field), error.status as 400, error.headers)
    }
    if (error instanceof HTTPException && error.status < 500) {
      return c.json(errorBody('invalid_body', error.message || 'bad request'), error.status)
    }
    if (isUnreachable(error)) {
      logger.warn({ err: error.message, path: c.req.path }, 'backing service unreachable')
      return c.json(errorBody('unavailable', 'a backing service is unreachable, retry shortly'), 503, {
        'retry-after': '1',
      })
    }
    logger.error({ err: error, path: c.req.path }, 'unhandled error')
    return c.json(errorBody('internal', 'internal error'), 500)
  })
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404))

  app.get('/healthz', async (c) => {
    const checks = await deps.health()
    const ok = Object.values(checks).every(Boolean)
    return c.json({ ok, checks }, ok ? 200 : 503)
  })
  // Sale ids and volumes are for operators: Prometheus scrapes with a bearer token.
  app.get('/metrics', requireBearer(deps.config.METRICS_TOKEN), async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  )

  // ---- shoppers (through the edge only), then the domains' own /v1 routes mounted below
  app.use('/v1/*', requireEdge(deps.config.CORE_INTERNAL_TOKEN))
  app.get('/v1/sales/:saleId', async (c) => {
    const sale = await sales.publicView(saleIdParam(c.req.param('saleId')))
    if (!sale) throw new ApiError('sale_not_found', `no sale ${c.req.param('saleId')}`)
    return c.json(sale, 200, { 'cache-control': 'public, max-age=1' })
  })

  app.post('/v1/redeem', async (c) => {
    const started = performance.now()
    try {
      const sessionId = sessionHeader(c.req.header(HEADER_SESSION))
      const idempotencyKey = idempotencyKeyOf(c)
      const body = await readJson(c, RedeemRequest, MAX_BODY_BYTES)
      const nowMs = Date.now()
      const shopper = await shopperOfCall(c.req.header('authorization'), sessionId)
      // requireEdge checked the receipt's MAC and path; the redeem also needs it bound to this shopper and key.
      const receipt = boundReceipt(edgeCallOf(c), { sub: shopper, idk: idempotencyKey, nowMs })
      const result = await redeemer.redeem({
        body,
        sessionId,
        shopper,
        idempotencyKey,
        nowMs,
        receivedAtMs: honouredTime(receipt, nowMs),
        replayOnly: c.req.header(HEADER_REPLAY_ONLY) !== undefined,
      })
      return c.json(result, 202)
    } finally {
      metrics.redeemSeconds.observe((performance.now() - started) / 1000)
    }
  })

  app.get('/v1/orders/:orderId', async (c) => {
    const orderId = c.req.param('orderId')
    if (!ORDER_ID_PATTERN.test(orderId))
      throw new ApiError('invalid_path', 'order id must look like ord_ followed by 32 hex chars', 'orderId')
    const query = OrderQuery.safeParse(c.req.query())
    if (!query.success) {
      const { field, message } = describeZodError(query.error)
      throw new ApiError('invalid_query', message, field || undefined)
    }
    const shopper = await shopperOfCall(c.req.header('authorization'), sessionHeader(c.req.header(HEADER_SESSION)))
    const waitMs = query.data.waitMs ?? 0
    // Watch before the first read, so a settlement landing in between still wakes us.
    const watch = waitMs > 0 ? await deps.orderFeed.watch(orderId, waitMs) : undefined
    try {
      let order = await orders.forShopper(orderId, shopper)
      if (!order) throw new ApiError('order_not_found', `no order ${orderId} for this session`)
      if (watch && order.status === 'pending') {
        await watch.settled
        order = (await orders.forShopper(orderId, shopper)) ?? order
      }
      return c.json(order)
    } finally {
      watch?.cancel()
    }
  })

  // ---- operators
  const admin = new Hono()
  admin.use('*', deps.operatorAuth ?? requireBearer(deps.config.CORE_ADMIN_TOKEN))
  admin.post('/sales', async (c) => {
    const request = await readJson(c, CreateSaleRequest, MAX_BODY_BYTES)
    const { sale, created } = await sales.create(request)
    return c.json(sale, created ? 201 : 200)
  })
  admin.get('/sales', async (c) => c.json({ sales: await sales.ids() }))
  admin.put('/sales/:saleId/checkout', async (c) => {
    const saleId = saleIdParam(c.req.param('saleId'))
    const { held } = await readJson(c, CheckoutHoldRequest, MAX_BODY_BYTES)
    const hold = await sales.holdCheckout(saleId, held)
    if (!hold) throw new ApiError('sale_not_found', `no sale ${saleId}`)
    return c.json(hold)
  })
  admin.get('/sales/:saleId', async (c) => {
    const sale = await sales.get(saleIdParam(c.req.param('saleId')), { fresh: true })
    if (!sale) throw new ApiError('sale_not_found', `no sale ${c.req.param('saleId')}`)
    return c.json(sale)
  })
  admin.get('/sales/:saleId/orders', async (c) => {
    const saleId = saleIdParam(c.req.param('saleId'))
    const query = SaleOrdersQuery.safeParse(c.req.query())
    if (!query.success) {
      const { field, message } = describeZodError(query.error)
      throw new ApiError('invalid_query', message, field || undefined)
    }
    const { status, cursor, limit } = query.data
    return c.json(
      await orders.ofSale(saleId, { limit, ...(status ? { status } : {}), ...(cursor ? { after: cursor } : {}) }),
    )
  })
  admin.get('/sales/:saleId/invariant', async (c) => {
    const report = await sales.invariant(saleIdParam(c.req.param('saleId')))
    if (!report) throw new ApiError('sale_not_found', `no sale ${c.req.param('saleId')}`)
    return c.json(report)
  })
  // Full or partial refund of a captured payment. Same Idempotency-Key = same refund.
  admin.post('/orders/:orderId/refunds', async (c) => {
    const orderId = c.req.param('orderId')
    if (!ORDER_ID_PATTERN.test(orderId))
      throw new ApiError('invalid_path', 'order id must look like ord_ followed by 32 hex chars', 'orderId')
    const idempotencyKey = idempotencyKeyOf(c)
    const body = await readJson(c, RefundRequest, MAX_BODY_BYTES)
    const { refund, created } = await deps.payments.refund(orderId, body, idempotencyKey)
    return c.json(refund, created ? 201 : 200)
  })
  // Each reconciliation job on demand (token-issuer, operators); answers the run's report.
  admin.post('/reconcile/:job', async (c) => {
    const job = ReconcileJobName.safeParse(c.req.param('job'))
    if (!job.success)
      throw new ApiError(
        'not_found',
        `no reconciliation job ${c.req.param('job')}; one of ${ReconcileJobName.options.join(', ')}`,
        'job',
      )
    return c.json(await deps.reconciler.run(job.data))
  })
  app.route('/admin', admin)

  // ---- payment gateway -> core. Authenticated by the signature over the raw body, not a bearer token.
  app.post('/webhooks/stripe', async (c) => {
    if (!deps.stripeWebhook)
      throw new ApiError('not_found', 'Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)')
    // The signature is checked on the raw body, read as a stream and capped: this endpoint must be public.
    const raw = await readBodyText(c, MAX_WEBHOOK_BYTES)
    try {
      const result = await deps.stripeWebhook.handle(raw, c.req.header('stripe-signature'))
      metrics.webhooks.inc({ outcome: result.outcome })
      return c.json({ received: true, ...result })
    } catch (error) {
      if (error instanceof ApiError && error.code === 'webhook_signature_invalid')
        metrics.webhooks.inc({ outcome: 'bad_signature' })
      // The gateway could not be asked about the event: 503, and Stripe delivers it again later.
      if (error instanceof GatewayUnavailableError)
        throw new ApiError('unavailable', 'payment gateway unavailable, retry later', undefined, {
          'retry-after': '30',
        })
      throw error
    }
  })

  // ---- edge -> core
  const internal = new Hono()
  internal.use('*', requireBearer(deps.config.CORE_INTERNAL_TOKEN))
  internal.post('/sales/:saleId/grants/expire', async (c) => {
    const saleId = saleIdParam(c.req.param('saleId'))
    const { grants } = await readJson(c, ExpireGrantsRequest, MAX_ADMIN_BODY_BYTES)
    const results: ExpireGrantsResponse = { results: await scripts.expireGrants(saleId, grants) }
    return c.json(results)
  })
  app.route('/internal', internal)

  for (const routes of deps.routes ?? []) app.route('/', routes)

  return app
}
