import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Order, RedeemResponse } from '../../contracts/index.ts'
import { eventually, startTestCore, type TestCore, createTestSale } from '../../test/support/core.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import { admittedShopper, postRedeem } from '../../test/support/tokens.ts'
import { SimulatedGateway } from '../payment/simulated-gateway.ts'

let core: TestCore
let room: RoomDouble
const gateway = new SimulatedGateway({ latencyMs: 2 })
const admin = () => ({ authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' })

beforeAll(async () => {
  room = await new RoomDouble().start()
  core = await startTestCore({ EDGE_URL: room.url }, { gateway })
})
afterAll(async () => {
  await core?.destroy()
  await room?.close()
})

const createSale = (saleId: string, stock: number, extra: Record<string, unknown> = {}) =>
  createTestSale(core, saleId, stock, extra)

async function redeem(s: Awaited<ReturnType<typeof admittedShopper>>, key: string, paymentMethod = 'pm_card_visa') {
  return postRedeem(core, s, key, { paymentMethod })
}

async function settled(orderId: string, session: string): Promise<Order> {
  return eventually(
    async () => {
      const res = await core.app.request(`/v1/orders/${orderId}`, { headers: { 'x-floodgate-session': session } })
      const order = (await res.json()) as Order
      return order.status === 'pending' ? undefined : order
    },
    20_000,
    `order ${orderId} to settle`,
  )
}

describe('when a shopper redeems a valid token and grant', () => {
  it('should hold the unit, confirm the order, capture once and report the token sold', async () => {
    await createSale('happy-1', 3)
    const shopper = await admittedShopper(core.config, 'happy-1')
    const res = await redeem(shopper, 'happy-key-0001')
    expect(res.status).toBe(202)
    const body = (await res.json()) as RedeemResponse
    expect(body).toMatchObject({ saleId: 'happy-1', status: 'pending', replayed: false })
    const order = await settled(body.orderId, shopper.session)
    expect(order).toMatchObject({ status: 'confirmed', amountCents: 4999, currency: 'USD', failureReason: null })
    // The order reads confirmed from the pivot on; capture is the step after it.
    const captured = () => [...gateway.ledger.values()].filter((e) => e.orderId === body.orderId)
    await eventually(
      async () => (captured().some((e) => e.state === 'captured') ? true : undefined),
      10_000,
      'the capture',
    )
    expect(captured()).toEqual([{ orderId: body.orderId, amountCents: 4999, state: 'captured', captures: 1 }])
    await eventually(async () =>
      room.outcomes.some((o) => o.tid === shopper.tid && o.outcome === 'sold') ? true : undefined,
    )
    const report = (await (await core.app.request('/admin/sales/happy-1/invariant', { headers: admin() })).json()) as {
      ok: boolean
      redis: unknown
      postgres: { confirmed: number }
    }
    expect(report.ok).toBe(true)
    expect(report.redis).toEqual({ available: 2, held: 0, sold: 1 })
    expect(report.postgres.confirmed).toBe(1)
  })

  it('should answer a long-poll once, when the order settles', async () => {
    await createSale('long-poll-1', 1)
    const shopper = await admittedShopper(core.config, 'long-poll-1')
    const { orderId } = (await (await redeem(shopper, 'long-poll-key-1')).json()) as RedeemResponse
    const started = Date.now()
    const res = await core.app.request(`/v1/orders/${orderId}?waitMs=5000`, {
      headers: { 'x-floodgate-session': shopper.session },
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as Order).status).toBe('confirmed')
    expect(Date.now() - started).toBeLessThan(4_000)
  })

  it('should answer the same order for the same key and for the same token under a new key', async () => {
    await createSale('replay-1', 3)
    const shopper = await admittedShopper(core.config, 'replay-1')
    const first = (await (await redeem(shopper, 'replay-key-0001')).json()) as RedeemResponse
    const again = await redeem(shopper, 'replay-key-0001')
    const newKey = await redeem(shopper, 'replay-key-0002')
    expect(again.status).toBe(202)
    expect(await again.json()).toEqual({ ...first, replayed: true })
    expect(await newKey.json()).toEqual({ ...first, replayed: true })
    await settled(first.orderId, shopper.session)
    const orders = await core.db.query('SELECT count(*)::int AS n FROM orders WHERE sale_id = $1', ['replay-1'])
    expect(orders.rows[0].n).toBe(1)
  })
})

describe('when the payment is declined', () => {
  it('should fail the order, give the unit back and return the token to the room', async () => {
    await createSale('declined-1', 1)
    const shopper = await admittedShopper(core.config, 'declined-1')
    const { orderId } = (await (
      await redeem(shopper, 'declined-key-01', 'pm_card_chargeDeclined')
    ).json()) as RedeemResponse
    const order = await settled(orderId, shopper.session)
    expect(order).toMatchObject({ status: 'failed', failureReason: 'payment_declined:card_declined' })
    expect(await core.scripts.counters('declined-1')).toEqual({ stock: 1, available: 1, held: 0, sold: 0 })
    await eventually(async () =>
      room.outcomes.some((o) => o.tid === shopper.tid && o.gen === 1 && o.outcome === 'returned') ? true : undefined,
    )
    // the next shopper in line gets the same token at generation 2, and buys it
    const next = await admittedShopper(core.config, 'declined-1', { tid: shopper.tid, gen: 2 })
    const second = (await (await redeem(next, 'declined-key-02')).json()) as RedeemResponse
    expect((await settled(second.orderId, next.session)).status).toBe('confirmed')
    const steps = await core.db.query(`SELECT step, outcome FROM saga_history WHERE saga_id = $1 ORDER BY at`, [
      orderId,
    ])
    expect(steps.rows).toEqual([
      { step: 'create-order-step', outcome: 'completed' },
      { step: 'reserve-unit-step', outcome: 'completed' },
      { step: 'authorize-payment-step', outcome: 'failed' },
      { step: 'reserve-unit-step', outcome: 'compensated' },
      { step: 'create-order-step', outcome: 'compensated' },
    ])
  })
})

describe('when 300 shoppers redeem 100 units and 30% of payments fail', () => {
  it('should re-sell every failed unit and end with exactly 100 confirmed', async () => {
    await createSale('storm-1', 100)
    const flaky = new SimulatedGateway({ latencyMs: 1, failureRate: 0.3 })
    core.gateway.authorize = flaky.authorize.bind(flaky)
    try {
      // Hand tokens out like the room: 100 tokens, re-granted at gen+1 to the next shopper when returned.
      const queue = Array.from({ length: 300 }, (_, i) => i)
      const tokens = Array.from({ length: 100 }, (_, i) => ({ tid: `tok_storm${String(i).padStart(12, '0')}`, gen: 0 }))
      let confirmed = 0
      let attempts = 0
      const serve = async (t: { tid: string; gen: number }): Promise<void> => {
        const who = queue.shift()
        if (who === undefined) return
        t.gen += 1
        attempts += 1
        const shopper = await admittedShopper(core.config, 'storm-1', { tid: t.tid, gen: t.gen })
        const res = await redeem(shopper, `storm-key-${who}-x`, 'pm_card_visa')
        const { orderId } = (await res.json()) as RedeemResponse
        const order = await settled(orderId, shopper.session)
        if (order.status === 'confirmed') confirmed += 1
        else await serve(t)
      }
      await Promise.all(tokens.map(serve))
      expect(confirmed).toBe(100)
      expect(attempts).toBeGreaterThan(120)
      const report = (await (
        await core.app.request('/admin/sales/storm-1/invariant', { headers: admin() })
      ).json()) as { ok: boolean; postgres: { confirmed: number; failed: number } }
      expect(report.ok).toBe(true)
      expect(report.postgres.confirmed).toBe(100)
      expect(report.postgres.failed).toBe(attempts - 100)
    } finally {
      core.gateway.authorize = gateway.authorize.bind(gateway)
    }
  })
})

describe('when the payment outlasts the hold', () => {
  it('should release the unit to the next shopper, void the authorization and never charge', async () => {
    await createSale('slow-pay-1', 1, { holdTtlSeconds: 5 })
    const { sweepHolds } = await import('../sale/hold-sweep.ts')
    let letGo!: () => void
    const gate = new Promise<void>((resolve) => (letGo = resolve))
    const slow = new SimulatedGateway({ latencyMs: 0 })
    let authorizing = false
    core.gateway.authorize = async (request) => {
      authorizing = true
      await gate
      return slow.authorize(request)
    }
    core.gateway.void = slow.void.bind(slow)
    core.gateway.capture = slow.capture.bind(slow)
    try {
      const shopper = await admittedShopper(core.config, 'slow-pay-1')
      const { orderId } = (await (await redeem(shopper, 'slow-pay-key-1')).json()) as RedeemResponse
      await eventually(async () => (authorizing ? true : undefined), 10_000, 'the saga to reach authorize')
      expect(await core.scripts.holdState('slow-pay-1', orderId)).toBe('held')
      const released = await sweepHolds(
        { sales: core.sales, scripts: core.scripts, jobs: core.jobs, metrics: core.metrics, logger: core.logger },
        Date.now() + 6_000,
      )
      expect(released).toBe(1)
      expect(await core.scripts.counters('slow-pay-1')).toEqual({ stock: 1, available: 1, held: 0, sold: 0 })
      letGo()
      const order = await settled(orderId, shopper.session)
      expect(order).toMatchObject({ status: 'failed', failureReason: 'hold_expired' })
      const entry = [...slow.ledger.values()].find((e) => e.orderId === orderId)
      expect(entry).toMatchObject({ state: 'voided', captures: 0 })
      const returned = room.outcomes.filter((o) => o.saleId === 'slow-pay-1' && o.outcome === 'returned')
      await eventually(async () =>
        room.outcomes.some((o) => o.saleId === 'slow-pay-1' && o.outcome === 'returned') ? true : undefined,
      )
      expect(returned.length).toBeLessThanOrEqual(1)
      expect(await core.scripts.counters('slow-pay-1')).toEqual({ stock: 1, available: 1, held: 0, sold: 0 })
      const payment = await core.db.query('SELECT status FROM payments WHERE order_id = $1', [orderId])
      expect(payment.rows).toEqual([{ status: 'VOIDED' }])
    } finally {
      core.gateway.authorize = gateway.authorize.bind(gateway)
      core.gateway.void = gateway.void.bind(gateway)
      core.gateway.capture = gateway.capture.bind(gateway)
    }
  })
})
