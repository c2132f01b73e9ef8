import type { SagaDefinition } from '../../saga/saga.ts'
import type { CartCheckoutDeps, CartCheckoutInput } from '../deps.ts'
import { authorizeCartPaymentStep, captureCartPaymentStep } from '../steps/cart-payment.ts'
import { confirmCartOrderStep, confirmCartOrderStepId } from '../steps/confirm-cart-order.ts'
import { openCartOrderStep } from '../steps/open-cart-order.ts'

export const cartCheckoutWorkflowId = 'cart-checkout'

/**
 * From a cart whose stock is reserved to a settled order; on a decline (or a lapsed reservation) before the
 * pivot: the authorization voided, the units back in stock, the order FAILED.
 */
export const cartCheckoutWorkflow: SagaDefinition<CartCheckoutInput, CartCheckoutDeps> = {
  id: cartCheckoutWorkflowId,
  steps: [
    openCartOrderStep, //        order PENDING, stock reserved      undo: release, order FAILED
    authorizeCartPaymentStep, // hold the shopper's funds           undo: void the authorization
    confirmCartOrderStep, //     PIVOT: reservation sold, order CONFIRMED
    captureCartPaymentStep, //   charge, exactly once
  ],
  pivot: confirmCartOrderStepId,
}
