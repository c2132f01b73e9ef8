/**
 * Issue 14: a retry always gets its first answer. A redeem that already made an order answers that order,
 * whatever the grant's age or the sale's state in Redis; and a redeem the edge received before the grant
 * expired is judged at the edge's receipt time, within the receipt window.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  HEADER_EDGE_RECEIPT,
  HEADER_REPLAY_ONLY,
  RECEIPT_WINDOW_MS,
  orderIdOf,
  signEdgeReceipt,
  type ErrorBody,
  type RedeemResponse,
} from '../../contracts/index.ts'
import { createTestSale, eventually, startTestCore, type TestCore } from '../../test/support/core.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import { snapshotState } from '../../test/support/state.ts'
import { admittedShopper, postRedeem } from '../../test/support/tokens.ts'
import { saleKeys } from '../redis/keys.ts'

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
afterEach(() => {
  vi.useRealTimers()
})

type Shopper = Awaited<ReturnType<typeof admittedShopper>>

function redeem(s: Shopper, key: string, extra: { headers?: Record<string, string>; paymentMethod?: string } = {}) {
  return postRedeem(core, s, key, { headers: extra.headers, paymentMethod: extra.paymentMethod ?? 'pm_card_visa' })
}

/** Moves core's clock (Date only: Redis, Postgres and BullMQ keep their real timers). */
function clockAt(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(ms)
}

async function orderStatus(orderId: string): Promise<string | undefined> {
  const { rows } = await core.db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])
  return rows[0]?.status
}

/** One sale's Redis keys and Postgres rows (other tests' sagas may still be settling meanwhile). */
async function saleState(saleId: string): Promise<Record<string, unknown>> {
  const all = await snapshotState(core.redis, core.db, core.prefix)
  const redis = Object.fromEntries(Object.entries(all).filter(([key]) => key.includes(`{${saleId}}`)))
  const { rows } = await core.db.query(
    `SELECT (SELECT count(*)::int FROM orders WHERE sale_id = $1) AS orders,
            (SELECT count(*)::int FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.sale_id = $1) AS payments,
            (SELECT sold FROM sales WHERE id = $1) AS sold`,
    [saleId],
  )
  return { ...redis, pg: rows[0] }
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T
}

/** The redeem was answered 202 with exactly this order, the one an earlier redeem made, replayed. */
async function expectReplayed(res: Response, order: Omit<RedeemResponse, 'replayed'>): Promise<void> {
  expect(res.status).toBe(202)
  expect(await json<RedeemResponse>(res)).toEqual({ ...order, replayed: true })
}

describe('when a shopper retries a redeem with the same Idempotency-Key after the grant expired', () => {
  it("should answer the order the first attempt made, not grant_expired (the issue's reproduction)", async () => {
    await createTestSale(core, 'retry-late-1', 3)
    const s = await admittedShopper(core.config, 'retry-late-1', { ttlMs: 6_000 })
    const first = await redeem(s, 'retry-key-00000001')
    expect(first.status).toBe(202)
    const { orderId } = await json<RedeemResponse>(first)
    clockAt(s.grantExpiresAt + 2_000)
    const again = await redeem(s, 'retry-key-00000001')
    expect(again.status).toBe(202)
    expect(await json<RedeemResponse>(again)).toMatchObject({ orderId, replayed: true })
    // The same token and generation under another key is the same order too.
    const otherKey = await redeem(s, 'retry-key-00000002')
    expect(await json<RedeemResponse>(otherKey)).toMatchObject({ orderId, replayed: true })
  })

  it('should answer the confirmed order once it confirmed', async () => {
    await createTestSale(core, 'retry-late-2', 3)
    const s = await admittedShopper(core.config, 'retry-late-2', { ttlMs: 6_000 })
    const { orderId } = await json<RedeemResponse>(await redeem(s, 'retry-key-00000003'))
    await eventually(async () => ((await orderStatus(orderId)) === 'CONFIRMED' ? true : undefined))
    clockAt(s.grantExpiresAt + 60_000)
    const again = await redeem(s, 'retry-key-00000003')
    await expectReplayed(again, { orderId, saleId: 'retry-late-2', status: 'confirmed' })
  })

  it('should answer the failed order once its payment failed, and sell nothing new', async () => {
    await createTestSale(core, 'retry-late-3', 3)
    const s = await admittedShopper(core.config, 'retry-late-3', { ttlMs: 6_000 })
    const first = await redeem(s, 'retry-key-00000004', { paymentMethod: 'pm_card_chargeDeclined' })
    const { orderId } = await json<RedeemResponse>(first)
    await eventually(async () => ((await orderStatus(orderId)) === 'FAILED' ? true : undefined))
    await eventually(async () => ((await core.scripts.counters('retry-late-3')).held === 0 ? true : undefined))
    clockAt(s.grantExpiresAt + 60_000)
    const before = await saleState('retry-late-3')
    for (const key of ['retry-key-00000004', 'retry-key-00000005']) {
      const again = await redeem(s, key, { paymentMethod: 'pm_card_chargeDeclined' })
      await expectReplayed(again, { orderId, saleId: 'retry-late-3', status: 'failed' })
    }
    expect(await saleState('retry-late-3')).toEqual(before)
    expect(await core.scripts.counters('retry-late-3')).toMatchObject({ available: 3, held: 0, sold: 0 })
  })

  it('should answer the order after Redis lost the sale, before and after the rebuild', async () => {
    await createTestSale(core, 'retry-late-4', 3)
    const s = await admittedShopper(core.config, 'retry-late-4', { ttlMs: 6_000 })
    const { orderId } = await json<RedeemResponse>(await redeem(s, 'retry-key-00000006'))
    await eventually(async () => ((await orderStatus(orderId)) === 'CONFIRMED' ? true : undefined))
    await core.redis.del(...Object.values(saleKeys(core.prefix, 'retry-late-4')))
    clockAt(s.grantExpiresAt + 60_000)
    // Redis does not know the sale at all (rebuild pending): Postgres does.
    const missing = await redeem(s, 'retry-key-00000006')
    expect(missing.status).toBe(202)
    expect(await json<RedeemResponse>(missing)).toMatchObject({ orderId, status: 'confirmed', replayed: true })
    vi.useRealTimers()
    expect(await core.sales.restoreCounters('retry-late-4')).not.toBeNull()
    clockAt(s.grantExpiresAt + 60_000)
    for (const key of ['retry-key-00000006', 'retry-key-00000007']) {
      const rebuilt = await redeem(s, key)
      expect(rebuilt.status).toBe(202)
      expect(await json<RedeemResponse>(rebuilt)).toMatchObject({ orderId, status: 'confirmed', replayed: true })
    }
    expect(await core.scripts.counters('retry-late-4')).toMatchObject({ available: 2, sold: 1 })
  })

  it('should still refuse an expired grant that never made an order, and change nothing', async () => {
    await createTestSale(core, 'retry-late-5', 3)
    const s = await admittedShopper(core.config, 'retry-late-5', { ttlMs: 6_000 })
    clockAt(s.grantExpiresAt + 1)
    const before = await saleState('retry-late-5')
    const late = await redeem(s, 'retry-key-00000008')
    expect(late.status).toBe(410)
    expect(await json<ErrorBody>(late)).toMatchObject({ error: { code: 'grant_expired', field: 'grant' } })
    expect(await saleState('retry-late-5')).toEqual(before)
  })
})

describe('when the edge received the redeem before the grant expired but core gets to it later', () => {
  const receipt = (s: Shopper, key: string, at: number) =>
    signEdgeReceipt({ at, req: 'POST /v1/redeem', sub: s.shopper, idk: key }, core.config.CORE_INTERNAL_TOKEN)

  it('should honour the receipt time within the window and make the order', async () => {
    await createTestSale(core, 'receipt-1', 3)
    const s = await admittedShopper(core.config, 'receipt-1', { ttlMs: 6_000 })
    const key = 'receipt-key-0000001'
    const at = s.grantExpiresAt - 500
    clockAt(at + RECEIPT_WINDOW_MS - 100)
    const res = await redeem(s, key, { headers: { [HEADER_EDGE_RECEIPT]: await receipt(s, key, at) } })
    expect(res.status).toBe(202)
    expect(await json<RedeemResponse>(res)).toMatchObject({
      orderId: await orderIdOf('receipt-1', s.tid, s.gen),
      status: 'pending',
      replayed: false,
    })
  })

  it("should judge by core's clock once the receipt is older than the window or for another key, and refuse a forged one", async () => {
    await createTestSale(core, 'receipt-2', 3)
    const s = await admittedShopper(core.config, 'receipt-2', { ttlMs: 6_000 })
    const key = 'receipt-key-0000002'
    const at = s.grantExpiresAt - 500
    clockAt(at + RECEIPT_WINDOW_MS + 100)
    const before = await saleState('receipt-2')
    const stale = await redeem(s, key, { headers: { [HEADER_EDGE_RECEIPT]: await receipt(s, key, at) } })
    expect(stale.status).toBe(410)
    clockAt(s.grantExpiresAt + 100)
    const forged = await signEdgeReceipt({ at, req: 'POST /v1/redeem', sub: s.shopper, idk: key }, 'x'.repeat(40))
    // A forged receipt does not even authenticate the call as the edge's.
    expect((await redeem(s, key, { headers: { [HEADER_EDGE_RECEIPT]: forged } })).status).toBe(401)
    const otherKey = await receipt(s, 'receipt-key-0000003', at)
    expect((await redeem(s, key, { headers: { [HEADER_EDGE_RECEIPT]: otherKey } })).status).toBe(410)
    expect(await saleState('receipt-2')).toEqual(before)
  })
})

describe('when the edge asks for a replay only (rate limited, checkout held)', () => {
  it('should answer an existing order, and 404 order_not_found without creating one', async () => {
    await createTestSale(core, 'replay-only-1', 3)
    const s = await admittedShopper(core.config, 'replay-only-1')
    const before = await saleState('replay-only-1')
    const none = await redeem(s, 'replay-key-0000001', { headers: { [HEADER_REPLAY_ONLY]: '1' } })
    expect(none.status).toBe(404)
    expect(await json<ErrorBody>(none)).toMatchObject({ error: { code: 'order_not_found' } })
    expect(await saleState('replay-only-1')).toEqual(before)
    const { orderId } = await json<RedeemResponse>(await redeem(s, 'replay-key-0000001'))
    const replay = await redeem(s, 'replay-key-0000001', { headers: { [HEADER_REPLAY_ONLY]: '1' } })
    expect(replay.status).toBe(202)
    expect(await json<RedeemResponse>(replay)).toMatchObject({ orderId, replayed: true })
  })
})

describe('when the operator holds checkout (queue_all)', () => {
  const hold = (saleId: string, body: unknown) =>
    core.app.request(`/admin/sales/${saleId}/checkout`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

  it('should make no new order while held, still answer an existing one, and sell again once released', async () => {
    await createTestSale(core, 'held-1', 3)
    const first = await admittedShopper(core.config, 'held-1')
    const second = await admittedShopper(core.config, 'held-1')
    const { orderId } = await json<RedeemResponse>(await redeem(first, 'held-key-0000001'))
    // Let the first order settle, so the snapshot below only moves if the held redeem changes something.
    await eventually(async () => {
      const counters = await core.scripts.counters('held-1')
      const keys = await core.redis.hlen(saleKeys(core.prefix, 'held-1').holdInfo)
      return counters.sold === 1 && counters.held === 0 && keys === 0 ? counters : undefined
    })

    expect(await json(await hold('held-1', { held: true }))).toEqual({ saleId: 'held-1', checkoutHeld: true })
    const before = await saleState('held-1')
    const refused = await redeem(second, 'held-key-0000002')
    const replay = await redeem(first, 'held-key-0000001')

    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('5')
    expect(await json<ErrorBody>(refused)).toMatchObject({ error: { code: 'unavailable' } })
    expect(replay.status).toBe(202)
    expect(await json<RedeemResponse>(replay)).toMatchObject({ orderId, replayed: true })
    expect(await saleState('held-1')).toEqual(before)

    expect((await hold('held-1', { held: false })).status).toBe(200)
    expect((await redeem(second, 'held-key-0000002')).status).toBe(202)
  })

  it('should refuse a bad hold request naming the field, and an unknown sale with 404', async () => {
    const bad = await hold('held-1', { held: 'yes' })
    const extra = await hold('held-1', { held: true, until: 'later' })
    const unknown = await hold('no-such-sale', { held: true })

    expect(bad.status).toBe(400)
    expect(await json<ErrorBody>(bad)).toMatchObject({ error: { code: 'invalid_body', field: 'held' } })
    expect(extra.status).toBe(400)
    expect(unknown.status).toBe(404)
  })
})
