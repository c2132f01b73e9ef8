import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestCore, type TestCore } from '../../test/support/core.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import type { NotificationJob, TokenOutcome } from '../../contracts/index.ts'

let core: TestCore
let room: RoomDouble

beforeAll(async () => {
  room = await new RoomDouble().start()
  // API role: no workers, so the jobs stay in the queues for the test to read.
  core = await startTestCore({ EDGE_URL: room.url, ROLE: 'api' })
})
afterAll(async () => {
  await core?.destroy()
  await room?.close()
})

const outcomes = (n: number): TokenOutcome[] =>
  Array.from({ length: n }, (_, i) => ({ tid: `t${i}`, gen: 1, outcome: 'sold' as const }))

describe('when a settlement batch reports its tokens to the room', () => {
  it('should make one job per 1,000 outcomes, and the same set in any order should be the same job', async () => {
    await core.jobs.enqueueRoomOutcomes('jobs-sale', outcomes(1500))
    await core.jobs.enqueueRoomOutcomes('jobs-sale', outcomes(1500).reverse())
    const jobs = await core.jobs.roomOutcomes.getJobs(['waiting'])
    const batches = jobs.filter((job) => job.data.saleId === 'jobs-sale')
    expect(batches.map((job) => job.data.outcomes?.length).sort()).toEqual([1000, 500].sort())
    expect(new Set(batches.flatMap((job) => job.data.outcomes!.map((o) => o.tid))).size).toBe(1500)
  })
})

describe('when a settlement batch notifies its shoppers', () => {
  it('should enqueue one job for the batch, and one job alone for a batch of one', async () => {
    const note = (orderId: string): NotificationJob => ({
      event: {
        type: 'order.confirmed',
        orderId,
        saleId: 'jobs-sale',
        at: new Date().toISOString(),
        reason: null,
        ref: '',
      },
      recipient: `shopper-${orderId}`,
    })
    await core.jobs.enqueueNotifications([note('o1'), note('o2'), note('o3')])
    await core.jobs.enqueueNotifications([note('o3'), note('o1'), note('o2')])
    await core.jobs.enqueueNotifications([note('o4')])
    const jobs = await core.jobs.notifications.getJobs(['waiting'])
    const shapes = jobs
      .map((job) =>
        'notifications' in job.data
          ? job.data.notifications
              .map((n) => n.event.orderId)
              .sort()
              .join(',')
          : job.data.event.orderId,
      )
      .sort()
    expect(shapes).toEqual(['o1,o2,o3', 'o4'])
  })
})
