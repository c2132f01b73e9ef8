import { createHash } from 'node:crypto'
import { shopperOf, verifyGrant, verifyPurchaseToken, type CheckoutJob, type RedeemRequest, type RedeemResponse } from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'
import type { Metrics } from '../metrics.ts'
import { ScriptError, type Scripts } from '../redis/scripts.ts'
import type { Sales } from '../sale/sales.ts'

const REFUSALS: Record<ScriptError, [ApiError['code'], string]> = {
  [ScriptError.SoldOut]: ['sold_out', 'every unit of this sale is sold or held'],
  [ScriptError.TokenUsed]: ['token_used', 'this purchase token has already been used'],
  [ScriptError.LimitReached]: ['limit_reached', 'you have reached the per-shopper limit for this sale'],
  [ScriptError.HoldGone]: ['internal', 'unexpected hold state'],
  [ScriptError.GrantSuperseded]: ['grant_superseded', 'this grant has lapsed and its token was given to the next shopper'],
  [ScriptError.IdempotencyKeyConflict]: ['idempotency_key_conflict', 'this Idempotency-Key was already used for a different token'],
  [ScriptError.GrantExpired]: ['grant_expired', 'the grant expired before it was redeemed'],
  [ScriptError.SaleNotFound]: ['sale_not_found', 'the sale of this token is not open for checkout'],
  [ScriptError.Inconsistent]: ['internal', 'unexpected sale state'],
  [ScriptError.CheckoutsBusy]: ['rate_limited', 'too many checkouts are in progress for this sale: retry shortly'],
}

/** Same sale, token and generation: same order id, on every node, on every retry. */
export function orderIdFor(saleId: string, tid: string, gen: number): string {
  return `ord_${createHash('sha256').update(`${saleId}:${tid}:${gen}`).digest('hex').slice(0, 32)}`
}

export interface RedeemCall {
  body: RedeemRequest & { paymentMethod: string }
  sessionId: string
  idempotencyKey: string
  nowMs: number
}

/** Where the redeem path hands the checkout job of a hold (CheckoutOutbox in core). */
export interface CheckoutForwarder {
  /** Resolves once BullMQ has the job (data: the job's JSON, as written to the sale's outbox). */
  forward(saleId: string, orderId: string, data: string): Promise<void>
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
    private readonly metrics: Metrics,
    /** Units a sale may hold while their payments run; beyond it redeem answers 429 (0: no cap). */
    private readonly maxCheckouts = 0,
  ) {}

  async redeem({ body, sessionId, idempotencyKey, nowMs }: RedeemCall): Promise<RedeemResponse> {
    const token = await verifyPurchaseToken(body.token, this.secrets.token)
    if (!token.ok) throw new ApiError(token.code, `purchase token refused: ${token.code.replace(/_/g, ' ')}`, 'token')
    const shopper = await shopperOf(sessionId)
    const grant = await verifyGrant(body.grant, this.secrets.grant, { token: token.payload, shopper, nowMs })
    if (!grant.ok) throw new ApiError(grant.code, `grant refused: ${grant.code.replace(/_/g, ' ')}`, 'grant')

    const saleId = token.payload.sale
    const sale = await this.sales.get(saleId)
    if (!sale) throw new ApiError('sale_not_found', `no sale ${saleId}`, 'token')

    const { tid } = token.payload
    const { gen, exp } = grant.payload
    const orderId = orderIdFor(saleId, tid, gen)
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
      grantExpiresAtMs: exp,
      maxCheckouts: this.maxCheckouts,
      checkoutJob,
    })
    if (result.kind === 'refused') {
      this.metrics.redeems.inc({ sale: saleId, outcome: ScriptError[result.error] })
      // The sale is in Postgres but not in Redis: Redis lost its data and the counters are being rebuilt
      // (reconciliation, within REDIS_CHECK_INTERVAL_MS). Nothing was held: the client retries.
      if (result.error === ScriptError.SaleNotFound) throw new ApiError('unavailable', 'the sale is being restored, retry in a moment', undefined, { 'retry-after': '1' })
      const [code, message] = REFUSALS[result.error]
      throw new ApiError(code, message, undefined, result.error === ScriptError.CheckoutsBusy ? { 'retry-after': '1' } : undefined)
    }
    this.metrics.redeems.inc({ sale: saleId, outcome: result.kind })
    // A new hold's job is already in the sale's outbox (same atomic step): if core dies before this
    // forward, another core process forwards it (CheckoutOutbox.recover). Forwarded on replays too: the
    // job id is the order id, so a saga is never started twice, and a replay also finishes a forward
    // that failed the first time.
    await this.checkouts.forward(saleId, result.orderId, result.orderId === orderId ? checkoutJob : JSON.stringify({ ...job, orderId: result.orderId }))
    return { orderId: result.orderId, saleId, status: 'pending', replayed: result.kind === 'replayed' }
  }
}
