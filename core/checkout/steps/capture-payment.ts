import { GatewayRejectedError } from '../../payment/gateway.ts'
import { withGatewayRetries } from '../../payment/retry.ts'
import { defineStep, fulfilled, manyOrEach, rejected, stepResult, type BatchItem } from '../../saga/saga.ts'
import { paymentKey } from '../../payment/keys.ts'
import { flagConfirmedWithoutPayment, markCaptured } from '../../payment/transitions.ts'
import { DEFAULT_PAYMENT_POLICY, type CheckoutContext, type CheckoutDeps, type CheckoutInput } from '../deps.ts'
import { authorizePaymentStepId } from './authorize-payment.ts'

export const capturePaymentStepId = 'capture-payment-step'

/** Captures at the gateway: true when charged, false when the gateway refused (the order is then flagged). */
async function charge(input: CheckoutInput, results: Record<string, unknown>, deps: CheckoutDeps): Promise<boolean> {
  const policy = deps.payments ?? DEFAULT_PAYMENT_POLICY
  const { ref } = results[authorizePaymentStepId] as { ref: string }
  try {
    await withGatewayRetries(
      () =>
        deps.gateway.capture({
          ref,
          amountCents: input.amountCents,
          idempotencyKey: paymentKey(input.orderId, 'capture'),
        }),
      {
        tries: policy.callTries,
        baseMs: policy.backoffMs,
      },
    )
    return true
  } catch (error) {
    if (!(error instanceof GatewayRejectedError)) throw error
    deps.logger.error(
      { orderId: input.orderId, ref, err: error.message },
      'capture refused after the order was confirmed: flagged',
    )
    await flagConfirmedWithoutPayment(deps.db, input.orderId, `capture refused: ${error.code}`)
    return false
  }
}

const recordCaptured = (deps: CheckoutDeps, captured: { orderId: string; amountCents: number }[]) =>
  markCaptured(deps.db, captured)

async function captureOne(input: CheckoutInput, results: Record<string, unknown>, deps: CheckoutDeps) {
  if (!(await charge(input, results, deps))) return stepResult({ captured: false })
  await recordCaptured(deps, [input])
  return stepResult({ captured: true })
}

/**
 * Charges the authorized amount, once (same idempotency key on every retry). Forward-only: no undo.
 * If the gateway refuses (the authorization was cancelled or lapsed), the order stays confirmed, the
 * unit is the shopper's, and the order is flagged `confirmed_without_payment` for a person to settle:
 * after the pivot nothing is compensated, least of all by taking the unit back silently.
 * For a batch, the gateway calls run side by side and one statement records every capture.
 */
export const capturePaymentStep = defineStep(
  capturePaymentStepId,
  async (input: CheckoutInput, { deps, results }: CheckoutContext) => captureOne(input, results, deps),
  undefined,
  (items: BatchItem<CheckoutInput>[], deps: CheckoutDeps) =>
    manyOrEach(
      items,
      async (batch) => {
        const charged = await Promise.all(
          batch.map((item) => charge(item.input, item.results, deps).then(fulfilled, rejected)),
        )
        await recordCaptured(
          deps,
          batch
            .filter(
              (_, i) => charged[i]!.status === 'fulfilled' && (charged[i] as PromiseFulfilledResult<boolean>).value,
            )
            .map((item) => item.input),
        )
        return charged.map((result) =>
          result.status === 'fulfilled' ? fulfilled(stepResult({ captured: result.value })) : result,
        )
      },
      (item) => captureOne(item.input, item.results, deps),
    ),
)
