import { defineStep, stepResult } from '../../saga/saga.ts'
import { paymentKey, type CheckoutContext, type CheckoutInput } from '../deps.ts'
import { authorizePaymentStepId } from './authorize-payment.ts'

export const capturePaymentStepId = 'capture-payment-step'

/** Charges the authorized amount, once (same idempotency key on every retry). Forward-only: no undo. */
export const capturePaymentStep = defineStep(capturePaymentStepId, async (input: CheckoutInput, { deps, results }: CheckoutContext) => {
  const { ref } = results[authorizePaymentStepId] as { ref: string }
  await deps.gateway.capture({ ref, amountCents: input.amountCents, idempotencyKey: paymentKey(input.orderId, 'capture') })
  await deps.db.query(`UPDATE payments SET status = 'CAPTURED', updated_at = now() WHERE order_id = $1 AND status = 'AUTHORIZED'`, [input.orderId])
  return stepResult(null)
})
