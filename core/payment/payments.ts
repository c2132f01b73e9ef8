import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { OrderEvent, Refund, RefundRequest } from '../../contracts/index.ts'
import { RefundRequest as RefundRequestSchema } from '../../contracts/index.ts'
import { refundKey } from './keys.ts'
import { ApiError } from '../errors/api-error.ts'
import type { Logger } from '../logger.ts'
import { GatewayRejectedError, GatewayUnavailableError, type PaymentGateway, type PaymentSnapshot } from './gateway.ts'
import { withGatewayRetries } from './retry.ts'
import { withTransaction } from '../db/transaction.ts'

export type PaymentStatus =
  | 'PENDING'
  | 'AUTHORIZED'
  | 'DECLINED'
  | 'CAPTURED'
  | 'VOIDED'
  | 'PARTIALLY_REFUNDED'
  | 'REFUNDED'

export interface PaymentRow {
  order_id: string
  gateway: string
  gateway_ref: string | null
  status: PaymentStatus
  amount_cents: string
  currency: string
  captured_cents: string
  refunded_cents: string
  attempts: number
}

/** Where a payment is on its way; a status only ever moves to a higher rank (a stale read cannot undo a newer one). */
const RANK: Record<PaymentStatus, number> = {
  PENDING: 0,
  AUTHORIZED: 1,
  DECLINED: 2,
  VOIDED: 2,
  CAPTURED: 2,
  PARTIALLY_REFUNDED: 3,
  REFUNDED: 4,
}

/** The status a gateway snapshot implies, or null when it says nothing new (none, processing). */
export function statusFromSnapshot(s: PaymentSnapshot): PaymentStatus | null {
  switch (s.state) {
    case 'authorized':
      return 'AUTHORIZED'
    case 'declined':
      return 'DECLINED'
    case 'voided':
      return 'VOIDED'
    case 'captured':
      return s.refundedCents <= 0 ? 'CAPTURED' : s.refundedCents >= s.capturedCents ? 'REFUNDED' : 'PARTIALLY_REFUNDED'
    default:
      return null
  }
}

interface RefundRow {
  id: string
  order_id: string
  amount_cents: string
  reason: string
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED'
  gateway_ref: string | null
  created_at: Date
}

/**
 * The payments table and the gateway, kept in step. Writes go through here (apart from the checkout
 * steps' own guarded updates): syncing a row from what the gateway says, and refunds.
 */
export class Payments {
  constructor(
    private readonly db: pg.Pool,
    private readonly gateway: PaymentGateway,
    private readonly logger: Logger,
    /** Announces an order event (notifications); must be idempotent per (order, type, ref). */
    private readonly announce: (event: OrderEvent, recipient: string) => Promise<void> = async () => {},
    private readonly callTries = 3,
  ) {}

  /**
   * Moves the payment row forward to what the gateway says (never backwards; refunded amounts only grow).
   * Runs inside the caller's transaction when given one. Returns the row before and after, or null when
   * there is no payment row for the order.
   */
  async sync(
    orderId: string,
    snapshot: PaymentSnapshot,
    client?: pg.PoolClient,
  ): Promise<{ before: PaymentStatus; after: PaymentStatus } | null> {
    const run = async (c: pg.PoolClient) => {
      const { rows } = await c.query<PaymentRow>('SELECT * FROM payments WHERE order_id = $1 FOR UPDATE', [orderId])
      const row = rows[0]
      if (!row) return null
      const target = statusFromSnapshot(snapshot)
      const before = row.status
      let after = before
      if (target && RANK[target] > RANK[before] && !(before === 'DECLINED' || before === 'VOIDED')) after = target
      // A refund seen at the gateway moves a captured payment's refunded amount up, whoever made it.
      if (
        snapshot.state === 'captured' &&
        (before === 'CAPTURED' || before === 'PARTIALLY_REFUNDED') &&
        target &&
        RANK[target] >= RANK[before]
      )
        after = target
      await c.query(
        `UPDATE payments SET status = $2, gateway_ref = COALESCE(gateway_ref, $3),
           captured_cents = GREATEST(captured_cents, $4), refunded_cents = LEAST(GREATEST(refunded_cents, $5), GREATEST(captured_cents, $4)),
           updated_at = now()
         WHERE order_id = $1`,
        [orderId, after, snapshot.ref, snapshot.capturedCents, snapshot.refundedCents],
      )
      return { before, after }
    }
    return client ? run(client) : withTransaction(this.db, run)
  }

  /**
   * Records a refund (full or partial) and asks the gateway for it. The refund id comes from the order and
   * the caller's key, so the same request twice is the same refund; the gateway key comes from the refund
   * id. If the gateway is unreachable the refund stays PENDING and reconciliation retries it.
   */
  async refund(
    orderId: string,
    request: RefundRequest,
    idempotencyKey: string,
  ): Promise<{ refund: Refund; created: boolean }> {
    const body = RefundRequestSchema.parse(request)
    const refundId = `rf_${createHash('sha256').update(`${orderId}:${idempotencyKey}`).digest('hex').slice(0, 24)}`
    let created = false
    await withTransaction(this.db, async (client) => {
      const { rows } = await client.query<PaymentRow>('SELECT * FROM payments WHERE order_id = $1 FOR UPDATE', [
        orderId,
      ])
      const payment = rows[0]
      if (!payment) throw new ApiError('order_not_found', `no payment for order ${orderId}`)
      const existing = await client.query<RefundRow>('SELECT * FROM refunds WHERE id = $1', [refundId])
      if (existing.rows[0]) {
        const seen = existing.rows[0]
        if (
          (body.amountCents !== undefined && Number(seen.amount_cents) !== body.amountCents) ||
          seen.reason !== body.reason
        ) {
          throw new ApiError(
            'idempotency_key_conflict',
            'this Idempotency-Key was already used for a different refund',
            'idempotency-key',
          )
        }
      } else {
        if (payment.status !== 'CAPTURED' && payment.status !== 'PARTIALLY_REFUNDED') {
          throw new ApiError(
            'payment_not_refundable',
            `payment of order ${orderId} is ${payment.status.toLowerCase()}: only captured payments can be refunded`,
          )
        }
        const pending = await client.query<{ sum: string }>(
          `SELECT coalesce(sum(amount_cents), 0) AS sum FROM refunds WHERE order_id = $1 AND status = 'PENDING'`,
          [orderId],
        )
        const left = Number(payment.captured_cents) - Number(payment.refunded_cents) - Number(pending.rows[0]!.sum)
        const amount = body.amountCents ?? left
        if (amount < 1 || amount > left)
          throw new ApiError(
            'refund_too_large',
            `at most ${Math.max(0, left)} cents of this payment can still be refunded`,
            'amountCents',
          )
        await client.query(
          `INSERT INTO refunds (id, order_id, amount_cents, reason, status) VALUES ($1, $2, $3, $4, 'PENDING')`,
          [refundId, orderId, amount, body.reason],
        )
        created = true
      }
    })
    await this.settleRefund(refundId)
    return { refund: (await this.refundView(refundId))!, created }
  }

  /** Asks the gateway for a PENDING refund (same key every time) and records the answer. Idempotent. */
  async settleRefund(refundId: string): Promise<'succeeded' | 'failed' | 'pending' | 'done'> {
    const { rows } = await this.db.query<RefundRow & { gateway_ref_payment: string | null }>(
      `SELECT r.*, p.gateway_ref AS gateway_ref_payment FROM refunds r JOIN payments p ON p.order_id = r.order_id WHERE r.id = $1`,
      [refundId],
    )
    const refund = rows[0]
    if (!refund || refund.status !== 'PENDING') return 'done'
    if (!refund.gateway_ref_payment) return 'pending'
    let refundRef: string
    try {
      ;({ refundRef } = await withGatewayRetries(
        () =>
          this.gateway.refund({
            ref: refund.gateway_ref_payment!,
            amountCents: Number(refund.amount_cents),
            idempotencyKey: refundKey(refund.order_id, refund.id),
          }),
        { tries: this.callTries },
      ))
    } catch (error) {
      if (error instanceof GatewayUnavailableError) {
        this.logger.warn(
          { refundId, orderId: refund.order_id, err: error.message },
          'refund left pending: gateway unavailable',
        )
        return 'pending'
      }
      if (error instanceof GatewayRejectedError) {
        await this.db.query(
          `UPDATE refunds SET status = 'FAILED', failure = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'`,
          [refundId, error.code],
        )
        this.logger.error({ refundId, orderId: refund.order_id, err: error.message }, 'refund refused by the gateway')
        return 'failed'
      }
      throw error
    }
    let settledNow = false
    await withTransaction(this.db, async (client) => {
      const done = await client.query(
        `UPDATE refunds SET status = 'SUCCEEDED', gateway_ref = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'`,
        [refundId, refundRef],
      )
      if (done.rowCount === 1) {
        settledNow = true
        // The larger of what we recorded and what webhooks saw: a refund is never counted twice.
        await client.query(
          `UPDATE payments SET
             refunded_cents = LEAST(captured_cents, GREATEST(refunded_cents, (SELECT coalesce(sum(amount_cents), 0) FROM refunds WHERE order_id = $1 AND status = 'SUCCEEDED'))),
             updated_at = now()
           WHERE order_id = $1`,
          [refund.order_id],
        )
        await client.query(
          `UPDATE payments SET status = CASE WHEN refunded_cents >= captured_cents THEN 'REFUNDED' ELSE 'PARTIALLY_REFUNDED' END
           WHERE order_id = $1 AND status IN ('CAPTURED', 'PARTIALLY_REFUNDED')`,
          [refund.order_id],
        )
      }
    })
    if (settledNow) {
      const order = await this.db.query<{ sale_id: string; shopper: string }>(
        'SELECT sale_id, shopper FROM orders WHERE id = $1',
        [refund.order_id],
      )
      const o = order.rows[0]
      if (o) {
        await this.announce(
          {
            type: 'order.refunded',
            orderId: refund.order_id,
            saleId: o.sale_id,
            at: new Date().toISOString(),
            reason: refund.reason,
            ref: refundId,
            amountCents: Number(refund.amount_cents),
          },
          o.shopper,
        ).catch((err) => this.logger.warn({ err, refundId }, 'could not announce refund'))
      }
    }
    return 'succeeded'
  }

  async refundView(refundId: string): Promise<Refund | null> {
    const { rows } = await this.db.query<RefundRow & { payment_status: string; refunded_cents: string }>(
      `SELECT r.*, p.status AS payment_status, p.refunded_cents FROM refunds r JOIN payments p ON p.order_id = r.order_id WHERE r.id = $1`,
      [refundId],
    )
    const r = rows[0]
    if (!r) return null
    return {
      refundId: r.id,
      orderId: r.order_id,
      amountCents: Number(r.amount_cents),
      reason: r.reason,
      status: r.status.toLowerCase() as Refund['status'],
      paymentStatus: r.payment_status,
      refundedCents: Number(r.refunded_cents),
      createdAt: r.created_at.toISOString(),
    }
  }
}
