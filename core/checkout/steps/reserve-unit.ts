import { PermanentFailure, defineStep, stepResult } from '../../saga/saga.ts'
import type { CheckoutDeps, CheckoutInput } from '../deps.ts'

export const reserveUnitStepId = 'reserve-unit-step'

/**
 * The unit was held atomically by the redeem request (Lua), before this saga started; this step
 * adopts that hold. Undo: the unit goes back to stock and its token back to the waiting room, for the
 * next shopper in line. The undo runs last, after the payment authorization is voided.
 */
export const reserveUnitStep = defineStep(
  reserveUnitStepId,
  async (input: CheckoutInput, { deps }) => {
    const state = await deps.scripts.holdState(input.saleId, input.orderId)
    // The hold expired and the sweeper already gave the unit back: nothing of ours to undo.
    if (state === 'none') throw new PermanentFailure('hold_expired')
    return stepResult(null, { saleId: input.saleId, orderId: input.orderId })
  },
  async (undo: { saleId: string; orderId: string } | undefined, deps: CheckoutDeps) => {
    if (!undo) return
    const released = await deps.scripts.releaseHold(undo.saleId, undo.orderId)
    if (released) await deps.reportToken(undo.saleId, { ...released, outcome: 'returned' })
  },
)
