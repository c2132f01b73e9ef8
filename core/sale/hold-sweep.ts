import type { Jobs } from '../jobs/jobs.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Orders } from '../order/orders.ts'
import type { Scripts } from '../redis/scripts.ts'
import type { Sales } from './sales.ts'

export interface HoldSweepDeps {
  sales: Sales
  scripts: Scripts
  jobs: Jobs
  metrics: Metrics
  logger: Logger
  /** Settles holds whose order is already final (see below); without it only expired holds are released. */
  orders?: Pick<Orders, 'settled'>
}

const SWEEP_BATCH = 500
/**
 * How old a release must be before the sweep announces it again: its releaser tells the room within
 * milliseconds, so one older than this was either told already (a repeat is harmless: the room applies each
 * token generation once) or lost with a crash between the release and the telling.
 */
export const ROOM_OUTBOX_GRACE_MS = 5_000

/**
 * Releases every expired hold of every sale and hands the tokens back to the waiting room. With `orders`, also
 * settles holds whose order is already final in Postgres (a hold restored by a Redis rebuild while its saga
 * was compensating, a finalize lost with a crash): FAILED -> released now, CONFIRMED -> sold, instead of
 * waiting out the hold's expiry. Last, every token released more than ROOM_OUTBOX_GRACE_MS ago is announced to
 * the room again (the room outbox that releaseOne.lua writes), so a release whose "returned" died with its process
 * still reaches the next shopper.
 */
export async function sweepHolds(deps: HoldSweepDeps, nowMs = Date.now()): Promise<number> {
  let total = 0
  for (const saleId of await deps.sales.ids()) {
    if (deps.orders) {
      const holds = await deps.scripts.holdOrderIds(saleId)
      if (holds.length) {
        for (const row of await deps.orders.settled(holds)) {
          if (row.status === 'FAILED') {
            const back = await deps.scripts.releaseHold(saleId, row.id)
            if (back) {
              await deps.jobs.enqueueRoomOutcome(saleId, { ...back, outcome: 'returned' })
              deps.metrics.holdsReleased.inc({ sale: saleId, reason: 'order_failed' })
              total++
            }
          } else {
            const sold = await deps.scripts.finalizeHold(saleId, row.id)
            if (sold) await deps.jobs.enqueueRoomOutcome(saleId, { ...sold, outcome: 'sold' })
          }
        }
      }
    }
    for (;;) {
      const released = await deps.scripts.releaseExpiredHolds(saleId, nowMs, SWEEP_BATCH)
      for (const hold of released)
        await deps.jobs.enqueueRoomOutcome(saleId, { tid: hold.tid, gen: hold.gen, outcome: 'returned' })
      if (released.length) {
        deps.metrics.holdsReleased.inc({ sale: saleId, reason: 'expired' }, released.length)
        deps.logger.info({ saleId, released: released.length }, 'released expired holds')
      }
      total += released.length
      if (released.length < SWEEP_BATCH) break
    }
    await announceReleased(deps, saleId, nowMs - ROOM_OUTBOX_GRACE_MS)
  }
  return total
}

/** Tells the room again about every token released before `releasedBy`, then clears them from the outbox. */
async function announceReleased(deps: HoldSweepDeps, saleId: string, releasedBy: number): Promise<void> {
  for (;;) {
    const tokens = await deps.scripts.roomOutbox(saleId, releasedBy)
    if (!tokens.length) return
    await deps.jobs.enqueueRoomOutcomes(
      saleId,
      tokens.map((t) => ({ ...t, outcome: 'returned' as const })),
    )
    await deps.scripts.clearRoomOutbox(saleId, tokens)
  }
}
