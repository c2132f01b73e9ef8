import type pg from 'pg'
import { CheckoutJob, type ReconcileJobName, type ReconcileReport } from '../../contracts/index.ts'
import { paymentKey } from '../payment/keys.ts'
import { flagConfirmedWithoutPayment, markCaptured, markVoided, resetAttempts } from '../payment/transitions.ts'
import type { Jobs } from '../jobs/jobs.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { GatewayUnavailableError, type PaymentGateway, type PaymentSnapshot } from '../payment/gateway.ts'
import type { Payments } from '../payment/payments.ts'
import { withGatewayRetries } from '../payment/retry.ts'
import type { Scripts } from '../redis/scripts.ts'
import type { Sales } from '../sale/sales.ts'

export interface ReconcilerDeps {
  db: pg.Pool
  sales: Sales
  scripts: Scripts
  jobs: Jobs
  gateway: PaymentGateway
  payments: Payments
  metrics: Metrics
  logger: Logger
  /** A saga or payment untouched this long is looked at (ms). */
  staleMs: number
  /** Releases expired holds (the hold sweep), returning how many. */
  sweepHolds: () => Promise<number>
}

type Action = ReconcileReport['actions'][number]

const BATCH = 500

interface OrderState {
  order_status: 'PENDING' | 'CONFIRMED' | 'FAILED'
  saga_status: string | null
  saga_input: unknown
  pay_status: string | null
  gateway_ref: string | null
  captured_cents: string | null
  refunded_cents: string | null
}

/**
 * Finds what a crash, a lost answer or a lost Redis left behind, and repairs it. Each job is idempotent and
 * safe to run at any time, from several processes at once: every repair goes through the same guarded
 * updates and idempotency keys the saga uses. Each run returns a report of what it changed.
 */
export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async run(job: ReconcileJobName): Promise<ReconcileReport> {
    const started = Date.now()
    const actions: Action[] = []
    const counts = { examined: 0, skipped: 0 }
    switch (job) {
      case 'stuck-sagas':
        await this.stuckSagas(actions, counts)
        break
      case 'expired-holds': {
        const released = await this.deps.sweepHolds()
        counts.examined = released
        if (released) actions.push({ id: '*', action: 'released_expired_holds', detail: String(released) })
        break
      }
      case 'pending-payments':
        await this.review(
          `SELECT order_id AS id FROM payments WHERE status = 'PENDING' AND updated_at < now() - $1 * interval '1 millisecond' ORDER BY updated_at LIMIT ${BATCH}`,
          actions,
          counts,
        )
        break
      case 'orphan-payments':
        await this.review(
          `SELECT p.order_id AS id FROM payments p JOIN orders o ON o.id = p.order_id
           WHERE o.status = 'FAILED' AND p.status IN ('PENDING', 'AUTHORIZED', 'CAPTURED', 'PARTIALLY_REFUNDED')
             AND p.updated_at < now() - $1 * interval '1 millisecond' ORDER BY p.updated_at LIMIT ${BATCH}`,
          actions,
          counts,
        )
        break
      case 'unpaid-orders':
        await this.review(
          `SELECT o.id FROM orders o JOIN sagas s ON s.id = o.id LEFT JOIN payments p ON p.order_id = o.id
           LEFT JOIN flags f ON f.order_id = o.id AND f.kind = 'confirmed_without_payment'
           WHERE o.status = 'CONFIRMED' AND s.status = 'COMPLETED' AND f.id IS NULL
             AND (p.order_id IS NULL OR p.status NOT IN ('CAPTURED', 'PARTIALLY_REFUNDED', 'REFUNDED'))
             AND s.updated_at < now() - $1 * interval '1 millisecond' LIMIT ${BATCH}`,
          actions,
          counts,
        )
        break
      case 'pending-refunds': {
        const { rows } = await this.deps.db.query<{ id: string; order_id: string }>(
          `SELECT id, order_id FROM refunds WHERE status = 'PENDING' AND updated_at < now() - $1 * interval '1 millisecond' LIMIT ${BATCH}`,
          [this.deps.staleMs],
        )
        for (const row of rows) {
          counts.examined++
          const outcome = await this.deps.payments.settleRefund(row.id)
          if (outcome === 'pending') counts.skipped++
          else if (outcome !== 'done') actions.push({ id: row.order_id, action: `refund_${outcome}`, detail: row.id })
        }
        break
      }
      case 'redis-counters':
        for (const saleId of await this.deps.sales.ids()) {
          counts.examined++
          const restored = await this.deps.sales.restoreCounters(saleId)
          if (restored) {
            actions.push({
              id: saleId,
              action: 'rebuilt_redis_counters',
              detail: `sold ${restored.sold}, held ${restored.held}, available ${restored.available}, tokens returned ${restored.returned.length}`,
            })
            this.deps.logger.warn(
              { ...restored, returned: restored.returned.length },
              'redis had lost the sale: counters rebuilt from postgres',
            )
          }
        }
        break
    }
    const report: ReconcileReport = {
      job,
      startedAt: new Date(started).toISOString(),
      ms: Date.now() - started,
      examined: counts.examined,
      fixed: actions.length,
      actions,
      skipped: counts.skipped,
    }
    if (actions.length)
      this.deps.logger.info({ job, fixed: actions.length, skipped: counts.skipped }, 'reconciliation fixed things')
    this.deps.metrics.reconciled.inc({ job }, actions.length)
    return report
  }

  /** Sagas that stopped moving with no job left to move them (crash, lost Redis, attempts spent): run them again. */
  private async stuckSagas(actions: Action[], counts: { examined: number; skipped: number }): Promise<void> {
    const { rows } = await this.deps.db.query<{ id: string; input: unknown; status: string }>(
      `SELECT id, input, status FROM sagas WHERE status IN ('RUNNING', 'COMPENSATING') AND updated_at < now() - $1 * interval '1 millisecond'
       ORDER BY updated_at LIMIT ${BATCH}`,
      [this.deps.staleMs],
    )
    for (const row of rows) {
      counts.examined++
      const parsed = CheckoutJob.safeParse(row.input)
      if (!parsed.success) {
        counts.skipped++
        continue
      }
      if (await this.deps.jobs.resumeCheckout(parsed.data))
        actions.push({ id: row.id, action: 'resumed_saga', detail: row.status.toLowerCase() })
      else counts.skipped++
    }
  }

  private async review(sql: string, actions: Action[], counts: { examined: number; skipped: number }): Promise<void> {
    const { rows } = await this.deps.db.query<{ id: string }>(sql, [this.deps.staleMs])
    for (const { id } of rows) {
      counts.examined++
      try {
        const done = await this.reviewOrder(id)
        if (done === null) counts.skipped++
        else actions.push(...done)
      } catch (error) {
        // One order the gateway refuses to settle (say, captured meanwhile) must not stop the batch.
        this.deps.logger.error(
          { orderId: id, err: (error as Error).message },
          'reconciliation could not settle an order',
        )
        counts.skipped++
      }
    }
  }

  /**
   * Looks at one order as a whole, with the gateway's own answer (never a cached or event copy), and
   * repairs it: the payment row is moved forward to the gateway's state; money held or taken for a FAILED
   * order is voided or refunded; a SUSPENDED saga is resumed once the gateway can answer; a confirmed
   * order whose charge is missing is captured if the authorization still stands, or flagged.
   * Returns what it did, or null when the gateway could not be asked (left for the next run).
   */
  async reviewOrder(orderId: string): Promise<Action[] | null> {
    const { db, gateway, payments, jobs } = this.deps
    const { rows } = await db.query<OrderState>(
      `SELECT o.status AS order_status, s.status AS saga_status, s.input AS saga_input, p.status AS pay_status, p.gateway_ref, p.captured_cents, p.refunded_cents
       FROM orders o LEFT JOIN sagas s ON s.id = o.id LEFT JOIN payments p ON p.order_id = o.id WHERE o.id = $1`,
      [orderId],
    )
    const row = rows[0]
    if (!row) return []
    const actions: Action[] = []
    if (!row.pay_status) {
      if (row.order_status === 'CONFIRMED' && row.saga_status === 'COMPLETED')
        actions.push(...(await this.flag(orderId, 'no payment row')))
      return actions
    }
    let snapshot: PaymentSnapshot
    try {
      snapshot = await gateway.retrieve({ orderId, ref: row.gateway_ref })
    } catch (error) {
      if (error instanceof GatewayUnavailableError) return null
      throw error
    }
    const synced = await payments.sync(orderId, snapshot)
    if (synced && synced.after !== synced.before)
      actions.push({ id: orderId, action: 'payment_synced', detail: `${synced.before} -> ${synced.after}` })

    try {
      if (row.order_status === 'FAILED') {
        // Money held or taken for an order that does not exist (any more): give it back.
        if (snapshot.state === 'authorized' && snapshot.ref) {
          await withGatewayRetries(
            () => gateway.void({ ref: snapshot.ref!, idempotencyKey: paymentKey(orderId, 'void') }),
            { tries: 3 },
          )
          await markVoided(db, orderId)
          actions.push({ id: orderId, action: 'voided_orphan_authorization' })
        } else if (snapshot.state === 'captured' && snapshot.refundedCents < snapshot.capturedCents) {
          const { refund } = await payments.refund(orderId, { reason: 'cancellation' }, 'reconciliation:no-order')
          actions.push({
            id: orderId,
            action: `refund_${refund.status}`,
            detail: `${refund.amountCents} cents, payment without order`,
          })
        }
      } else if (row.order_status === 'PENDING' && row.saga_status === 'SUSPENDED') {
        // The gateway answers again: the saga can go on (authorize re-sends the same key, so whatever the
        // gateway did for it is what the saga gets).
        await resetAttempts(db, orderId)
        const input = CheckoutJob.safeParse(row.saga_input)
        if (input.success && (await jobs.resumeCheckout(input.data)))
          actions.push({ id: orderId, action: 'resumed_saga', detail: `payment ${snapshot.state}` })
      } else if (row.order_status === 'CONFIRMED' && row.saga_status === 'COMPLETED') {
        if (snapshot.state === 'authorized' && snapshot.ref) {
          const amount = Number(snapshot.amountCents)
          await withGatewayRetries(
            () =>
              gateway.capture({
                ref: snapshot.ref!,
                amountCents: amount,
                idempotencyKey: paymentKey(orderId, 'capture'),
              }),
            { tries: 3 },
          )
          await markCaptured(db, [{ orderId, amountCents: amount }])
          actions.push({ id: orderId, action: 'captured_confirmed_order' })
        } else if (snapshot.state !== 'captured') {
          actions.push(...(await this.flag(orderId, `gateway says ${snapshot.state}`)))
        }
      }
    } catch (error) {
      if (error instanceof GatewayUnavailableError) return actions.length ? actions : null
      throw error
    }
    return actions
  }

  /** An order confirmed without a payment: a person decides (ship and chase, or cancel). Once per order. */
  private async flag(orderId: string, detail: string): Promise<Action[]> {
    const flagged = await flagConfirmedWithoutPayment(this.deps.db, orderId, detail)
    return flagged ? [{ id: orderId, action: 'flagged_confirmed_without_payment', detail }] : []
  }
}
