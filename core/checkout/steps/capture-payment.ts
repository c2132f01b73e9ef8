import { GatewayRejectedError } from '../../payment/gateway.ts'
import { withGatewayRetries } from '../../payment/retry.ts'
import { defineStep, stepResult } from '../../saga/saga.ts'
import { DEFAULT_PAYMENT_POLICY, paymentKey, type CheckoutContext, type CheckoutInput } from '../deps.ts'
import { authorizePaymentStepId } from './authorize-payment.ts'

export const capturePaymentStepId = 'capture-payment-step'

/**
 * Charges the authorized amount, once (same idempotency key on every retry). Forward-only: no undo.
 * If the gateway refuses (the authorization was cancelled or lapsed), the order stays confirmed, the
 * unit is the shopper's, and the order is flagged `confirmed_without_payment` for a person to settle:
 * after the pivot nothing is compensated, least of all by taking the unit back silently.
 */
export const capturePaymentStep = defineStep(capturePaymentStepId, async (input: CheckoutInput, { deps, results }: CheckoutContext) => {
  const policy = deps.payments ?? DEFAULT_PAYMENT_POLICY
  const { ref } = results[authorizePaymentStepId] as { ref: string }
  try {
    await withGatewayRetries(() => deps.gateway.capture({ ref, amountCents: input.amountCents, idempotencyKey: paymentKey(input.orderId, 'capture') }), {
      tries: policy.callTries,
      baseMs: policy.backoffMs,
    })
  } catch (error) {
    if (!(error instanceof GatewayRejectedError)) throw error
    deps.logger.error({ orderId: input.orderId, ref, err: error.message }, 'capture refused after the order was confirmed: flagged')
    await deps.db.query(
      `INSERT INTO flags (kind, order_id, detail) VALUES ('confirmed_without_payment', $1, $2) ON CONFLICT (kind, order_id) DO NOTHING`,
      [input.orderId, `capture refused: ${error.code}`],
    )
    return stepResult({ captured: false })
  }
  await deps.db.query(
    `UPDATE payments SET status = 'CAPTURED', captured_cents = $2, updated_at = now() WHERE order_id = $1 AND status IN ('AUTHORIZED', 'PENDING')`,
    [input.orderId, input.amountCents],
  )
  return stepResult({ captured: true })
})
