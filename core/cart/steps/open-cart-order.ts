import { defineStep, stepResult } from '../../saga/saga.ts'
import type { CartCheckoutDeps, CartCheckoutInput } from '../deps.ts'

export const openCartOrderStepId = 'open-cart-order-step'

/**
 * The order, its lines and the stock reservation were written before the saga started (one transaction with
 * the stock taken: all lines or none). Undo: the reservation released, its units back in stock, the order
 * FAILED with the saga's reason.
 */
export const openCartOrderStep = defineStep(
  openCartOrderStepId,
  async (input: CartCheckoutInput) => stepResult(null, { orderId: input.orderId }),
  async (undo: { orderId: string } | undefined, deps: CartCheckoutDeps, failure: string) => {
    if (!undo) return
    await deps.releaseOrder(undo.orderId, failure)
  },
)
