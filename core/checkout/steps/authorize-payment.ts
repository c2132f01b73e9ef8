import { PermanentFailure, defineStep, stepResult } from '../../saga/saga.ts'
import { paymentKey, type CheckoutDeps, type CheckoutInput } from '../deps.ts'

export const authorizePaymentStepId = 'authorize-payment-step'

/**
 * Places a hold on the shopper's card; nothing is charged yet. A decline is final for this order.
 * Undo (runs when a later step fails before the order is confirmed): void the authorization, so
 * the shopper is never charged for a unit they did not get. A failed void is logged, not rethrown
 * past its retries: the authorization lapses on its own at the card network's deadline.
 */
export const authorizePaymentStep = defineStep(
  authorizePaymentStepId,
  async (input: CheckoutInput, { deps }) => {
    const result = await deps.gateway.authorize({
      orderId: input.orderId,
      amountCents: input.amountCents,
      currency: input.currency,
      paymentMethod: input.paymentMethod,
      idempotencyKey: paymentKey(input.orderId, 'authorize'),
    })
    if (result.status === 'declined') throw new PermanentFailure(`payment_declined:${result.reason}`)
    await deps.db.query(
      `INSERT INTO payments (order_id, gateway, gateway_ref, status, amount_cents, currency)
       VALUES ($1, $2, $3, 'AUTHORIZED', $4, $5) ON CONFLICT (order_id) DO NOTHING`,
      [input.orderId, deps.gateway.name, result.ref, input.amountCents, input.currency],
    )
    return stepResult({ ref: result.ref }, { orderId: input.orderId, ref: result.ref })
  },
  async (undo: { orderId: string; ref: string } | undefined, deps: CheckoutDeps) => {
    if (!undo) return
    try {
      await deps.gateway.void({ ref: undo.ref, idempotencyKey: paymentKey(undo.orderId, 'void') })
    } catch (error) {
      deps.logger.error({ orderId: undo.orderId, ref: undo.ref, err: error }, 'void of payment authorization failed')
      throw error
    }
    await deps.db.query(`UPDATE payments SET status = 'VOIDED', updated_at = now() WHERE order_id = $1 AND status = 'AUTHORIZED'`, [undo.orderId])
  },
)
