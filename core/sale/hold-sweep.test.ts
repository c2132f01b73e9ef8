import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSale, eventually, startTestCore, type TestCore } from '../../test/support/core.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import { heldCheckout } from '../../test/support/tokens.ts'
import { ROOM_OUTBOX_GRACE_MS, sweepHolds } from './hold-sweep.ts'

let core: TestCore
let room: RoomDouble

beforeAll(async () => {
  room = await new RoomDouble().start()
  core = await startTestCore({ EDGE_URL: room.url })
})
afterAll(async () => {
  await core?.destroy()
  await room?.close()
})

const sweep = (nowMs: number) =>
  sweepHolds(
    { sales: core.sales, scripts: core.scripts, jobs: core.jobs, metrics: core.metrics, logger: core.logger },
    nowMs,
  )

describe('when the sweep dies between releasing an expired hold and telling the room', () => {
  // A hold whose order never got a saga (its job lost): no saga re-run finds the hold gone and tells the room,
  // so without the outbox the unit is back in stock but its token is never offered to the next shopper.
  it('should tell the room on a later sweep, once the release is older than the grace', async () => {
    const saleId = 'swept-crash-1'
    await createTestSale(core, saleId, 2, { holdTtlSeconds: 5 })
    const input = await heldCheckout(core, saleId, 'pm_card_visa')
    const releasedAt = Date.now() + 6_000
    // The dying sweep: its script released the hold, and the process died before enqueuing the outcome.
    expect(await core.scripts.releaseExpiredHolds(saleId, releasedAt)).toEqual([
      { orderId: input.orderId, tid: input.tid, gen: 1 },
    ])
    expect(await core.scripts.counters(saleId)).toEqual({ stock: 2, available: 2, held: 0, sold: 0 })

    expect(await sweep(releasedAt + ROOM_OUTBOX_GRACE_MS - 1)).toBe(0)
    expect(await core.scripts.roomOutbox(saleId, Number.MAX_SAFE_INTEGER)).toEqual([{ tid: input.tid, gen: 1 }])
    await sweep(releasedAt + ROOM_OUTBOX_GRACE_MS)
    await eventually(
      async () => (room.outcomes.some((o) => o.tid === input.tid) ? true : undefined),
      20_000,
      'the room told',
    )
    expect(room.outcomes.filter((o) => o.tid === input.tid)).toEqual([
      { saleId, tid: input.tid, gen: 1, outcome: 'returned' },
    ])
    expect(await core.scripts.roomOutbox(saleId, Number.MAX_SAFE_INTEGER)).toEqual([])
    expect(await core.scripts.counters(saleId)).toEqual({ stock: 2, available: 2, held: 0, sold: 0 })
  })
})
