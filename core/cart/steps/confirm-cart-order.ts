import { PermanentFailure, defineStep, stepResult } from '../../saga/saga.ts'
import type { CartCheckoutDeps, CartCheckoutInput } from '../deps.ts'

export const confirmCartOrderStepId = 'confirm-cart-order-step'

/**
 * PIVOT. The reservation becomes sold and the order CONFIRMED in one transaction, only while the reservation
 * is held and unexpired; a reservation the sweep released (it lapsed while the payment ran) fails the
 * checkout, and the authorization is voided.
 */
export const confirmCartOrderStep = defineStep(
  confirmCartOrderStepId,
  async (input: CartCheckoutInput, { deps }: { deps: CartCheckoutDeps }) => {
    if (!(await deps.confirmOrder(input.orderId))) throw new PermanentFailure('reservation_expired')
    return stepResult(null)
  },
)
