import {
  orderIdOf,
  shopperOf,
  verifyGrant,
  verifyPurchaseToken,
  type CheckoutJob,
  type Order,
  type RedeemRequest,
  type RedeemResponse,
} from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'
import type { Metrics } from '../metrics.ts'
import { ScriptError, replyName, type Scripts } from '../redis/scripts.ts'
import type { Sales } from '../sale/sales.ts'

const REFUSALS: Record<number, [ApiError['code'], string, field?: string]> = {
  [ScriptError.SoldOut]: ['sold_out', 'every unit of this sale is sold or held'],
  [ScriptError.TokenUsed]: ['token_used', 'this purchase token has already been used'],
  [ScriptError.LimitReached]: ['limit_reached', 'you have reached the per-shopper limit for this sale'],
  [ScriptError.HoldGone]: ['internal', 'unexpected hold state'],
  [ScriptError.GrantSuperseded]: [
    'grant_superseded',
    'this grant has lapsed and its token was given to the next shopper',
    'grant',
  ],
  [ScriptError.IdempotencyKeyConflict]: [
    'idempotency_key_conflict',
    'this Idempotency-Key was already used for a different token',
    'idempotency-key',
  ],
  [ScriptError.GrantExpired]: ['grant_expired', 'the grant expired before it was redeemed', 'grant'],
  [ScriptError.SaleNotFound]: ['sale_not_found', 'the sale of this token is not open for checkout'],
  [ScriptError.Inconsistent]: ['internal', 'unexpected sale state'],
  [ScriptError.CheckoutsBusy]: ['rate_limited', 'too many checkouts are in progress for this sale: retry shortly'],
}

export interface RedeemCall {
  body: RedeemRequest & { paymentMethod: string }
  sessionId: string
  /** The caller's shopper id when it is signed in (derived from the account); else derived from the session. */
  shopper?: string
  idempotencyKey: string
  nowMs: number
  /**
   * When the edge received the request (its signed receipt, already checked), if it is within the receipt
   * window: the grant's expiry is judged at this time, so pressing Pay in time counts. Default: nowMs.
   */
  receivedAtMs?: number
  /** Only look for an order this token generation already has; never create one (rate limited, queue-all). */
  replayOnly?: boolean
}

/** Where the redeem path hands the checkout job of a hold (CheckoutOutbox in core). */
export interface CheckoutForwarder {
  /** Resolves once BullMQ has the job (data: the job's JSON, as written to the sale's outbox). */
  forward(saleId: string, orderId: string, data: string): Promise<void>
}

/** Where the redeem path finds an order that already exists (core's Orders). */
export interface OrderLookup {
  forShopper(orderId: string, shopper: string): Promise<Order | null>
}

/**
 * The hot path: two signature checks, one Lua script (the hold and its checkout job in the sale's outbox,
 * atomically), one batched forward of the job into BullMQ. Everything that can be refused without shared
 * state is refused before Redis is touched.
 */
export class Redeemer {
  constructor(
    private readonly secrets: { token: string; grant: string },
    private readonly sales: Sales,
    private readonly scripts: Scripts,
    private readonly checkouts: CheckoutForwarder,
    private readonly orders: OrderLookup,
    private readonly metrics: Metrics,
    /** Units a sale may hold while their payments run; beyond it redeem answers 429 (0: no cap). */
    private readonly maxCheckouts = 0,
  ) {}

  async redeem(call: RedeemCall): Promise<RedeemResponse> {
    const { body, sessionId, idempotencyKey, nowMs } = call
    const token = await verifyPurchaseToken(body.token, this.secrets.token)
    if (!token.ok) throw new ApiError(token.code, `purchase token refused: ${token.code.replace(/_/g, ' ')}`, 'token')
    const shopper = call.shopper ?? (await shopperOf(sessionId))
    // No expiry check yet: a retry of a redeem that already made an order gets that order, however old its grant.
    const grant = await verifyGrant(body.grant, this.secrets.grant, { token: token.payload, shopper })
    if (!grant.ok) throw new ApiError(grant.code, `grant refused: ${grant.code.replace(/_/g, ' ')}`, 'grant')

    const saleId = token.payload.sale
    const { tid } = token.payload
    const { gen, exp } = grant.payload
    const orderId = await orderIdOf(saleId, tid, gen)
    if (call.replayOnly) {
      const existing = await this.existingOrder(orderId, shopper)
      if (existing) return existing
      throw new ApiError('order_not_found', 'this grant has no order yet', 'grant')
    }
    const sale = await this.sales.get(saleId)
    if (!sale) throw new ApiError('sale_not_found', `no sale ${saleId}`, 'token')
    if (await this.sales.checkoutHeld(saleId)) {
      const existing = await this.existingOrder(orderId, shopper)
      if (existing) return existing
      throw new ApiError(
        'unavailable',
        'checkout is paused by the operator; your grant is kept, try again shortly',
        undefined,
        {
          'retry-after': '5',
        },
      )
    }
    const job: CheckoutJob = {
      orderId,
      saleId,
      tid,
      gen,
      shopper,
      paymentMethod: body.paymentMethod,
      amountCents: sale.priceCents,
      currency: sale.currency,
      idempotencyKey,
      redeemedAt: nowMs,
    }
    const checkoutJob = JSON.stringify(job)
    const result = await this.scripts.redeemToken(saleId, {
      tid,
      gen,
      shopper,
      idempotencyKey,
      orderId,
      nowMs,
      receivedAtMs: Math.min(call.receivedAtMs ?? nowMs, nowMs),
      grantExpiresAtMs: exp,
      maxCheckouts: this.maxCheckouts,
      checkoutJob,
    })
    if (result.kind === 'refused') {
      this.metrics.redeems.inc({ sale: saleId, outcome: replyName(result.error) })
      // Whatever Redis says now (a token since released, a fence, a lost sale), an order this token generation
      // already has is this shopper's answer. Only a conflicting Idempotency-Key is refused regardless.
      if (result.error !== ScriptError.IdempotencyKeyConflict) {
        const existing = await this.existingOrder(orderId, shopper)
        if (existing) return existing
      }
      // The sale is in Postgres but not in Redis: Redis lost its data and the counters are being rebuilt
      // (reconciliation, within REDIS_CHECK_INTERVAL_MS). Nothing was held: the client retries.
      if (result.error === ScriptError.SaleNotFound)
        throw new ApiError('unavailable', 'the sale is being restored, retry in a moment', undefined, {
          'retry-after': '1',
        })
      const [code, message, field] = REFUSALS[result.error] ?? [
        'internal',
        `unexpected reply ${replyName(result.error)}`,
      ]
      throw new ApiError(
        code,
        message,
        field,
        result.error === ScriptError.CheckoutsBusy ? { 'retry-after': '1' } : undefined,
      )
    }
    this.metrics.redeems.inc({ sale: saleId, outcome: result.kind })
    // A new hold's job is already in the sale's outbox (same atomic step): if core dies before this
    // forward, another core process forwards it (CheckoutOutbox.recover). Forwarded on replays too: the
    // job id is the order id, so a saga is never started twice, and a replay also finishes a forward
    // that failed the first time.
    await this.checkouts.forward(
      saleId,
      result.orderId,
      result.orderId === orderId ? checkoutJob : JSON.stringify({ ...job, orderId: result.orderId }),
    )
    if (result.kind === 'replayed') {
      const existing = await this.existingOrder(result.orderId, shopper)
      if (existing) return existing
    }
    return { orderId: result.orderId, saleId, status: 'pending', replayed: result.kind === 'replayed' }
  }

  /** The order this shopper already has under `orderId` (Postgres, or its checkout job), as a replay. */
  private async existingOrder(orderId: string, shopper: string): Promise<RedeemResponse | null> {
    const order = await this.orders.forShopper(orderId, shopper)
    return order?.saleId ? { orderId, saleId: order.saleId, status: order.status, replayed: true } : null
  }
}
