import { defineStep, fulfilled, rejected, stepResult, type BatchItem } from '../../saga/saga.ts'
import type { TokenOutcome } from '../../../contracts/index.ts'
import { positionsBySale, type CheckoutContext, type CheckoutDeps, type CheckoutInput } from '../deps.ts'

export const finalizeSaleStepId = 'finalize-sale-step'

const sold = (input: CheckoutInput): TokenOutcome => ({ tid: input.tid, gen: input.gen, outcome: 'sold' })

/**
 * Moves the unit from held to sold in Redis and tells the waiting room the token is spent. For a batch,
 * the room hears about each sale's tokens in one message.
 */
export const finalizeSaleStep = defineStep(
  finalizeSaleStepId,
  async (input: CheckoutInput, { deps }: CheckoutContext) => {
    await deps.scripts.finalizeHold(input.saleId, input.orderId)
    await deps.reportToken(input.saleId, sold(input))
    return stepResult(null)
  },
  undefined,
  async (items: BatchItem<CheckoutInput>[], deps: CheckoutDeps) => {
    const held = await Promise.all(
      items.map(({ input }) => deps.scripts.finalizeHold(input.saleId, input.orderId).then(fulfilled, rejected)),
    )
    const bySale = positionsBySale(
      items.map((item) => item.input),
      (i) => held[i]!.status === 'fulfilled',
    )
    const reported: PromiseSettledResult<void>[] = items.map(() => fulfilled(undefined))
    await Promise.all(
      [...bySale].map(async ([saleId, at]) => {
        const outcomes = at.map((i) => sold(items[i]!.input))
        const sent = deps.reportTokens
          ? deps.reportTokens(saleId, outcomes)
          : Promise.all(outcomes.map((o) => deps.reportToken(saleId, o))).then(() => {})
        const result = await sent.then(fulfilled, rejected)
        for (const i of at) reported[i] = result
      }),
    )
    return items.map((_, i) => {
      const result = held[i]!.status === 'rejected' ? held[i]! : reported[i]!
      return result.status === 'fulfilled' ? fulfilled(stepResult(null)) : (result as PromiseRejectedResult)
    })
  },
)
