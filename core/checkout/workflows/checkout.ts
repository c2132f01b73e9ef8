import type { SagaDefinition } from '../../saga/saga.ts'
import type { CheckoutDeps, CheckoutInput } from '../deps.ts'
import {
  authorizePaymentStep,
  capturePaymentStep,
  commitHoldStep,
  confirmOrderStep,
  confirmOrderStepId,
  createOrderStep,
  finalizeSaleStep,
  reserveUnitStep,
} from '../steps/index.ts'

export const checkoutWorkflowId = 'checkout'

/**
 * From a redeemed token to a settled order. Read top to bottom; on a permanent failure before
 * confirm-order, completed steps are undone in reverse: void the authorization, give the unit back
 * to the next shopper in line, mark the order FAILED.
 */
export const checkoutWorkflow: SagaDefinition<CheckoutInput, CheckoutDeps> = {
  id: checkoutWorkflowId,
  steps: [
    createOrderStep, //      order PENDING                    undo: order FAILED
    reserveUnitStep, //      adopt the hold made at redeem    undo: unit and token back to the room
    authorizePaymentStep, // hold the shopper's funds         undo: void the authorization
    commitHoldStep, //       hold can no longer expire
    confirmOrderStep, //     PIVOT: sale.sold + 1, order CONFIRMED, guarded in SQL
    capturePaymentStep, //   charge, exactly once
    finalizeSaleStep, //     unit sold in Redis, token spent in the room
  ],
  pivot: confirmOrderStepId,
}
