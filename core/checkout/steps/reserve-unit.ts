import { PermanentFailure, defineStep, stepResult } from '../../saga/saga.ts'
import type { CheckoutDeps, CheckoutInput } from '../deps.ts'

export const reserveUnitStepId = 'reserve-unit-step'

/**
 * The unit was held atomically by the redeem request (Lua), before this saga started; this step adopts that
 * hold. Finding none, it makes sure the room knows the token is free, but only once Redis has fenced the token
 * generation (adoptHold-5.lua), so a redeem retry of the same grant cannot take the unit back after the room
 * has handed it on. Undo: the unit goes back to stock and its token back to the waiting room, for the next
 * shopper in line. The undo runs last, after the payment authorization is voided.
 */
export const reserveUnitStep = defineStep(
  reserveUnitStepId,
  async (input: CheckoutInput, { deps }) => {
    const state = await deps.scripts.adoptHold(input.saleId, input)
    // Redis lost the sale and has not been rebuilt yet: the hold may come back with the rebuild. Retry later.
    if (state === 'sale_missing') throw new Error(`sale ${input.saleId} is not in Redis yet (being rebuilt): retry`)
    // No hold for this order: it expired (the sweep gave unit and token back), or it was lost with Redis (the
    // rebuild counted the unit as available, but nobody has told the room). The room acts on the token's
    // current generation only, so a repeat is harmless. A token another order now holds is that order's to report.
    if (state === 'returned')
      await deps.reportToken(input.saleId, { tid: input.tid, gen: input.gen, outcome: 'returned' })
    if (state === 'returned' || state === 'taken') throw new PermanentFailure('hold_expired')
    return stepResult(null, { saleId: input.saleId, orderId: input.orderId })
  },
  async (undo: { saleId: string; orderId: string } | undefined, deps: CheckoutDeps) => {
    if (!undo) return
    const released = await deps.scripts.releaseHold(undo.saleId, undo.orderId)
    if (released) await deps.reportToken(undo.saleId, { ...released, outcome: 'returned' })
  },
)
