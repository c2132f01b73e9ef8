import { defineStep, stepResult } from '../../saga/saga.ts'
import type { CheckoutContext, CheckoutInput } from '../deps.ts'

export const finalizeSaleStepId = 'finalize-sale-step'

/** Moves the unit from held to sold in Redis and tells the waiting room the token is spent. */
export const finalizeSaleStep = defineStep(finalizeSaleStepId, async (input: CheckoutInput, { deps }: CheckoutContext) => {
  await deps.scripts.finalizeHold(input.saleId, input.orderId)
  await deps.reportToken(input.saleId, { tid: input.tid, gen: input.gen, outcome: 'sold' })
  return stepResult(null)
})
