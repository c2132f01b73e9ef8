import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorBody } from '../../contracts/index.ts'
import { startTestCore, type TestCore } from '../../test/support/core.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import { snapshotState } from '../../test/support/state.ts'
import { admittedShopper, postRedeem } from '../../test/support/tokens.ts'
import type { AuthorizeRequest, AuthorizeResult } from '../payment/gateway.ts'

let core: TestCore
let room: RoomDouble
let release!: () => void
const stalled = new Promise<void>((resolve) => (release = resolve))

beforeAll(async () => {
  room = await new RoomDouble().start()
  core = await startTestCore({ EDGE_URL: room.url, MAX_CONCURRENT_CHECKOUTS: '2' })
  // Payments hang until the test lets them go, so holds stay "in checkout".
  const authorize = core.gateway.authorize.bind(core.gateway)
  core.gateway.authorize = async (request: AuthorizeRequest): Promise<AuthorizeResult> => {
    await stalled
    return authorize(request)
  }
  const res = await core.app.request('/admin/sales', {
    method: 'POST',
    headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      saleId: 'capped-1',
      sku: 'S',
      name: 'Capped',
      priceCents: 100,
      stock: 10,
      startsAt: new Date().toISOString(),
    }),
  })
  expect(res.status).toBe(201)
})
afterAll(async () => {
  release()
  await core?.destroy()
  await room?.close()
})

describe('when more shoppers check out at once than the cap allows', () => {
  it('should answer 429 with Retry-After and change nothing for the ones over the cap', async () => {
    const redeem = async (n: number) => {
      const s = await admittedShopper(core.config, 'capped-1')
      return postRedeem(core, s, `cap-key-${n}-xxxx`)
    }
    expect((await redeem(1)).status).toBe(202)
    expect((await redeem(2)).status).toBe(202)
    const before = await snapshotState(core.redis, core.db, core.prefix)
    const refused = await redeem(3)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(((await refused.json()) as ErrorBody).error.code).toBe('rate_limited')
    const after = await snapshotState(core.redis, core.db, core.prefix)
    // the two sagas may have written their first steps meanwhile; Redis stock must not have moved
    expect(after[`${core.prefix}:{capped-1}:stock`]).toBe(before[`${core.prefix}:{capped-1}:stock`])
    expect(await core.scripts.counters('capped-1')).toMatchObject({ available: 8, held: 2 })
  })
})
