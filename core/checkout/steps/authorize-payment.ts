import { PermanentFailure, SuspendSaga, defineStep, stepResult } from '../../saga/saga.ts'
import { GatewayUnavailableError } from '../../payment/gateway.ts'
import { withGatewayRetries } from '../../payment/retry.ts'
import { DEFAULT_PAYMENT_POLICY, paymentKey, type CheckoutDeps, type CheckoutInput } from '../deps.ts'

export const authorizePaymentStepId = 'authorize-payment-step'

interface PaymentRow {
  status: string
  gateway_ref: string | null
  attempts: number
  failure: string | null
}

/**
 * Places a hold on the shopper's card; nothing is charged yet. A decline is final for this order.
 *
 * The payment row is written PENDING before the first call, so Postgres knows of every payment the
 * gateway might have made even if its answer is lost. Timeouts and 5xx are retried with the same key
 * (backoff), then by BullMQ; after PAYMENT_MAX_TRIES calls the saga is SUSPENDED with the payment
 * PENDING, and reconciliation asks the gateway and resumes it. A row already settled by reconciliation
 * or a webhook is used as is.
 *
 * Undo (runs when a later step fails before the order is confirmed): void the authorization, so the
 * shopper is never charged for a unit they did not get. A failed void is logged and rethrown (the job is
 * retried); the authorization would otherwise lapse on its own at the card network's deadline.
 */
export const authorizePaymentStep = defineStep(
  authorizePaymentStepId,
  async (input: CheckoutInput, { deps }) => {
    const policy = deps.payments ?? DEFAULT_PAYMENT_POLICY
    const { rows } = await deps.db.query<PaymentRow>(
      `INSERT INTO payments (order_id, gateway, status, amount_cents, currency) VALUES ($1, $2, 'PENDING', $3, $4)
       ON CONFLICT (order_id) DO UPDATE SET updated_at = payments.updated_at
       RETURNING status, gateway_ref, attempts, failure`,
      [input.orderId, deps.gateway.name, input.amountCents, input.currency],
    )
    const row = rows[0]!
    if (row.status === 'DECLINED') throw new PermanentFailure(row.failure ?? 'payment_declined')
    // Settled meanwhile by reconciliation or a webhook (both re-read the gateway): use that answer.
    if (row.status !== 'PENDING' && row.status !== 'VOIDED' && row.gateway_ref) return stepResult({ ref: row.gateway_ref }, { orderId: input.orderId, ref: row.gateway_ref })
    if (row.status !== 'PENDING') throw new PermanentFailure(`payment_${row.status.toLowerCase()}`)

    let result
    try {
      result = await withGatewayRetries(
        () =>
          deps.gateway.authorize({
            orderId: input.orderId,
            amountCents: input.amountCents,
            currency: input.currency,
            paymentMethod: input.paymentMethod,
            idempotencyKey: paymentKey(input.orderId, 'authorize'),
          }),
        {
          tries: policy.callTries,
          baseMs: policy.backoffMs,
          beforeCall: async () => {
            const counted = await deps.db.query<{ attempts: number }>(
              `UPDATE payments SET attempts = attempts + 1, updated_at = now() WHERE order_id = $1 AND attempts < $2 RETURNING attempts`,
              [input.orderId, policy.maxTries],
            )
            return counted.rowCount === 1
          },
        },
      )
    } catch (error) {
      if (!(error instanceof GatewayUnavailableError)) throw error
      const spent = await deps.db.query(`SELECT 1 FROM payments WHERE order_id = $1 AND attempts >= $2`, [input.orderId, policy.maxTries])
      if (spent.rowCount) {
        deps.logger.warn({ orderId: input.orderId, err: error.message }, 'gateway still unavailable: payment PENDING, saga suspended for reconciliation')
        throw new SuspendSaga('payment_pending')
      }
      throw error
    }
    if (result.status === 'declined') {
      const reason = `payment_declined:${result.reason}`
      await deps.db.query(`UPDATE payments SET status = 'DECLINED', failure = $2, updated_at = now() WHERE order_id = $1 AND status = 'PENDING'`, [input.orderId, reason])
      throw new PermanentFailure(reason)
    }
    await deps.db.query(
      `UPDATE payments SET status = 'AUTHORIZED', gateway_ref = $2, updated_at = now() WHERE order_id = $1 AND status = 'PENDING'`,
      [input.orderId, result.ref],
    )
    return stepResult({ ref: result.ref }, { orderId: input.orderId, ref: result.ref })
  },
  async (undo: { orderId: string; ref: string } | undefined, deps: CheckoutDeps) => {
    if (!undo) return
    const policy = deps.payments ?? DEFAULT_PAYMENT_POLICY
    try {
      await withGatewayRetries(() => deps.gateway.void({ ref: undo.ref, idempotencyKey: paymentKey(undo.orderId, 'void') }), { tries: policy.callTries, baseMs: policy.backoffMs })
    } catch (error) {
      deps.logger.error({ orderId: undo.orderId, ref: undo.ref, err: error }, 'void of payment authorization failed')
      throw error
    }
    await deps.db.query(`UPDATE payments SET status = 'VOIDED', updated_at = now() WHERE order_id = $1 AND status IN ('AUTHORIZED', 'PENDING')`, [undo.orderId])
  },
)
