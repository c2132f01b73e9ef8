import { PermanentFailure, defineStep, stepResult } from '../../saga/saga.ts'
import type { CheckoutContext, CheckoutInput } from '../deps.ts'

export const commitHoldStepId = 'commit-hold-step'

/**
 * With the payment authorized, takes the hold out of reach of the expiry sweep. If the hold expired
 * first, the unit may already be someone else's: fail, and the authorization is voided.
 * No undo of its own: reserve-unit's undo releases committed holds too.
 */
export const commitHoldStep = defineStep(commitHoldStepId, async (input: CheckoutInput, { deps }: CheckoutContext) => {
  if (!(await deps.scripts.commitHold(input.saleId, input.orderId))) throw new PermanentFailure('hold_expired')
  return stepResult(null)
})
