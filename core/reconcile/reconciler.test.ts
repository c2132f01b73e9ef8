import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, startTestCore, type TestCore, createTestSale } from '../../test/support/core.ts'
import { freezePoint } from '../../test/support/freeze.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import { admittedShopper, heldCheckout, postRedeem, redeemAdmitted } from '../../test/support/tokens.ts'
import { checkoutWorkflow } from '../checkout/workflows/checkout.ts'
import { SimulatedGateway } from '../payment/simulated-gateway.ts'
import { SagaStore, SagaSuperseded, runSaga } from '../saga/saga.ts'
import { checkoutDeps, RECONCILE_ON_CALL, reconcile, sagaStatus } from './fixtures.ts'

let core: TestCore
let room: RoomDouble
const gateway = new SimulatedGateway({ latencyMs: 1 })
const admin = () => ({ authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' })

beforeAll(async () => {
  room = await new RoomDouble().start()
  core = await startTestCore({ EDGE_URL: room.url, ...RECONCILE_ON_CALL, PAYMENT_MAX_TRIES: '2' }, { gateway })
})
afterAll(async () => {
  await core?.destroy()
  await room?.close()
})

const createSale = (saleId: string, stock: number, extra: Record<string, unknown> = {}) =>
  createTestSale(core, saleId, stock, extra)

const redeem = (saleId: string, paymentMethod?: string) => redeemAdmitted(core, saleId, paymentMethod)

const waitSaga = (orderId: string, status: string) =>
  eventually(
    async () => ((await sagaStatus(core, orderId)) === status ? true : undefined),
    20_000,
    `saga ${orderId} ${status}`,
  )
const invariant = async (saleId: string) =>
  (await (await core.app.request(`/admin/sales/${saleId}/invariant`, { headers: admin() })).json()) as {
    ok: boolean
    redis: unknown
    postgres: { confirmed: number }
  }

describe('when the gateway times out on every call', () => {
  it('should leave the payment PENDING, suspend the saga, and finish it once reconciliation reaches the gateway', async () => {
    await createSale('timeouts-1', 1)
    gateway.unavailableRate = 1
    let orderId: string
    try {
      ;({ orderId } = await redeem('timeouts-1'))
      await waitSaga(orderId, 'SUSPENDED')
    } finally {
      gateway.unavailableRate = 0
    }
    expect((await core.db.query('SELECT status, attempts FROM payments WHERE order_id = $1', [orderId])).rows).toEqual([
      { status: 'PENDING', attempts: 2 },
    ])
    expect((await core.db.query('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0].status).toBe('PENDING')
    const report = await reconcile(core, 'pending-payments')
    expect(report.actions).toContainEqual({
      id: orderId,
      action: 'resumed_saga',
      detail: expect.stringMatching(/^payment (none|authorized)$/),
    })
    await waitSaga(orderId, 'COMPLETED')
    const entries = [...gateway.ledger.values()].filter((e) => e.orderId === orderId)
    expect(entries).toEqual([{ orderId, amountCents: 4999, state: 'captured', captures: 1 }])
    expect((await invariant('timeouts-1')).ok).toBe(true)
  })
})

describe('when a worker died after the pivot and its job is gone', () => {
  it('should resume the saga from its step log and capture exactly once', async () => {
    await createSale('stuck-1', 1)
    // The redeem script ran, but the process died before enqueueing; then a saga ran by hand until capture "crashed".
    const input = await heldCheckout(core, 'stuck-1', 'pm_card_visa', 'stuck-key-1')
    const { orderId } = input
    const dying = checkoutDeps(core, {
      ...gateway,
      name: gateway.name,
      authorize: gateway.authorize.bind(gateway),
      void: gateway.void.bind(gateway),
      refund: gateway.refund.bind(gateway),
      retrieve: gateway.retrieve.bind(gateway),
      capture: async () => {
        throw new Error('process killed')
      },
    })
    await expect(runSaga(checkoutWorkflow, new SagaStore(core.db), orderId, input, dying)).rejects.toThrow(
      'process killed',
    )
    expect(await sagaStatus(core, orderId)).toBe('RUNNING')
    expect((await core.db.query('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0].status).toBe('CONFIRMED')

    const report = await reconcile(core, 'stuck-sagas')
    expect(report.actions).toContainEqual({ id: orderId, action: 'resumed_saga', detail: 'running' })
    await waitSaga(orderId, 'COMPLETED')
    expect([...gateway.ledger.values()].filter((e) => e.orderId === orderId)).toEqual([
      { orderId, amountCents: 4999, state: 'captured', captures: 1 },
    ])
    expect(await core.scripts.counters('stuck-1')).toEqual({ stock: 1, available: 0, held: 0, sold: 1 })
    // Running it again finds nothing to do.
    expect((await reconcile(core, 'stuck-sagas')).actions.filter((a) => a.id === orderId)).toEqual([])
  })
})

describe('when the same saga runs twice at once (a stalled BullMQ job re-run)', () => {
  it.each([
    ['pm_card_visa', 'COMPLETED'],
    ['pm_card_chargeDeclined', 'COMPENSATED'],
  ])(
    'should end in one outcome with %s: one order, at most one capture, the unit counted once',
    async (paymentMethod, final) => {
      const saleId = `twice-${paymentMethod === 'pm_card_visa' ? 'ok' : 'no'}`
      await createSale(saleId, 2)
      const input = await heldCheckout(core, saleId, paymentMethod, `twice-key-${saleId}`)
      const { orderId } = input
      const reported: string[] = []
      const deps = checkoutDeps(core, gateway, async (_s, o) => void reported.push(o.outcome))
      const runs = await Promise.allSettled([
        runSaga(checkoutWorkflow, new SagaStore(core.db), orderId, input, deps),
        runSaga(checkoutWorkflow, new SagaStore(core.db), orderId, input, deps),
      ])
      // The run that writes second stops there (unless the first had finished before it began); the other settles.
      const outcomes = runs.map((r) => (r.status === 'fulfilled' ? r.value.status : (r.reason as Error).name))
      expect(outcomes).toContain(final)
      for (const outcome of outcomes) expect([final, 'SagaSuperseded']).toContain(outcome)
      expect(await sagaStatus(core, orderId)).toBe(final)
      const orders = await core.db.query('SELECT status FROM orders WHERE sale_id = $1', [saleId])
      expect(orders.rows).toEqual([{ status: final === 'COMPLETED' ? 'CONFIRMED' : 'FAILED' }])
      const captures = [...gateway.ledger.values()]
        .filter((e) => e.orderId === orderId)
        .reduce((n, e) => n + e.captures, 0)
      expect(captures).toBe(final === 'COMPLETED' ? 1 : 0)
      expect(await core.scripts.counters(saleId)).toEqual(
        final === 'COMPLETED'
          ? { stock: 2, available: 1, held: 0, sold: 1 }
          : { stock: 2, available: 2, held: 0, sold: 0 },
      )
      expect((await core.db.query('SELECT sold FROM sales WHERE id = $1', [saleId])).rows[0].sold).toBe(
        final === 'COMPLETED' ? 1 : 0,
      )
      expect(new Set(reported)).toEqual(new Set([final === 'COMPLETED' ? 'sold' : 'returned']))
      expect((await invariant(saleId)).ok).toBe(true)
    },
  )
})

describe('when a saga run freezes while authorizing and its re-run settles the order meanwhile', () => {
  it('should stop the frozen run when it wakes: the order stays confirmed, captured once, nothing voided', async () => {
    const saleId = 'frozen-run'
    await createSale(saleId, 2)
    const input = await heldCheckout(core, saleId, 'pm_card_visa', 'frozen-run-key')
    const { orderId } = input
    const point = freezePoint()
    const voids: string[] = []
    const freezing = checkoutDeps(core, {
      name: gateway.name,
      authorize: async (request) => {
        const answer = await gateway.authorize(request)
        await point.freeze()
        return answer
      },
      capture: gateway.capture.bind(gateway),
      void: async (request) => {
        voids.push(request.ref)
        return gateway.void(request)
      },
      refund: gateway.refund.bind(gateway),
      retrieve: gateway.retrieve.bind(gateway),
    })
    const stalled = runSaga(checkoutWorkflow, new SagaStore(core.db), orderId, input, freezing)
    await point.frozen
    const rerun = await runSaga(checkoutWorkflow, new SagaStore(core.db), orderId, input, checkoutDeps(core, gateway))
    expect(rerun.status).toBe('COMPLETED')
    point.thaw()
    await expect(stalled).rejects.toThrow(SagaSuperseded)

    expect(await sagaStatus(core, orderId)).toBe('COMPLETED')
    expect(voids).toEqual([])
    expect((await core.db.query('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0].status).toBe('CONFIRMED')
    expect([...gateway.ledger.values()].filter((e) => e.orderId === orderId)).toEqual([
      { orderId, amountCents: 4999, state: 'captured', captures: 1 },
    ])
    expect(await core.scripts.counters(saleId)).toEqual({ stock: 2, available: 1, held: 0, sold: 1 })
    const log = await core.db.query('SELECT count(*)::int AS n FROM saga_step_log WHERE saga_id = $1', [orderId])
    expect(log.rows[0].n).toBe(0)
    expect((await invariant(saleId)).ok).toBe(true)
  })
})

describe('when money is held or taken for an order that failed', () => {
  it('should void a standing authorization and refund a capture', async () => {
    await createSale('orphan-1', 2)
    const a = await redeem('orphan-1', 'pm_card_chargeDeclined')
    const b = await redeem('orphan-1', 'pm_card_chargeDeclined')
    await waitSaga(a.orderId, 'COMPENSATED')
    await waitSaga(b.orderId, 'COMPENSATED')
    // What a lost void / a capture by another system would leave behind:
    const authorizeElsewhere = (orderId: string) =>
      gateway.authorize({
        orderId,
        amountCents: 4999,
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        idempotencyKey: `other-${orderId}`,
      })
    const authA = await authorizeElsewhere(a.orderId)
    const authB = await authorizeElsewhere(b.orderId)
    if (authA.status !== 'authorized' || authB.status !== 'authorized') throw new Error('expected authorizations')
    await gateway.capture({ ref: authB.ref, amountCents: 4999, idempotencyKey: 'x' })
    await core.db.query(`UPDATE payments SET status = 'AUTHORIZED', gateway_ref = $2 WHERE order_id = $1`, [
      a.orderId,
      authA.ref,
    ])
    await core.db.query(`UPDATE payments SET status = 'AUTHORIZED', gateway_ref = $2 WHERE order_id = $1`, [
      b.orderId,
      authB.ref,
    ])

    const report = await reconcile(core, 'orphan-payments')
    expect(report.actions).toEqual(
      expect.arrayContaining([
        { id: a.orderId, action: 'voided_orphan_authorization' },
        { id: b.orderId, action: 'refund_succeeded', detail: '4999 cents, payment without order' },
      ]),
    )
    expect(gateway.ledger.get(authA.ref)?.state).toBe('voided')
    expect(
      (await core.db.query('SELECT status, refunded_cents::int FROM payments WHERE order_id = $1', [b.orderId]))
        .rows[0],
    ).toEqual({ status: 'REFUNDED', refunded_cents: 4999 })
    expect(
      (await reconcile(core, 'orphan-payments')).actions.filter((x) => x.id === a.orderId || x.id === b.orderId),
    ).toEqual([])
  })
})

describe('when an order is confirmed but its payment is not captured', () => {
  it('should capture a standing authorization, and flag one that is gone, once', async () => {
    await createSale('unpaid-1', 2)
    const a = await redeem('unpaid-1')
    const b = await redeem('unpaid-1')
    await waitSaga(a.orderId, 'COMPLETED')
    await waitSaga(b.orderId, 'COMPLETED')
    // a: the capture never happened (its authorization still stands); b: the authorization was cancelled.
    const refA = [...gateway.ledger.entries()].find(([, e]) => e.orderId === a.orderId)![0]
    const refB = [...gateway.ledger.entries()].find(([, e]) => e.orderId === b.orderId)![0]
    Object.assign(gateway.ledger.get(refA)!, { state: 'authorized', captures: 0 })
    Object.assign(gateway.ledger.get(refB)!, { state: 'voided', captures: 0 })
    await core.db.query(`UPDATE payments SET status = 'AUTHORIZED', captured_cents = 0 WHERE order_id = ANY($1)`, [
      [a.orderId, b.orderId],
    ])

    const report = await reconcile(core, 'unpaid-orders')
    expect(report.actions).toEqual(
      expect.arrayContaining([
        { id: a.orderId, action: 'captured_confirmed_order' },
        { id: b.orderId, action: 'flagged_confirmed_without_payment', detail: 'gateway says voided' },
      ]),
    )
    expect(gateway.ledger.get(refA)).toMatchObject({ state: 'captured', captures: 1 })
    expect((await core.db.query(`SELECT kind FROM flags WHERE order_id = $1`, [b.orderId])).rows).toEqual([
      { kind: 'confirmed_without_payment' },
    ])
    expect((await reconcile(core, 'unpaid-orders')).actions.filter((x) => x.id === b.orderId)).toEqual([])
  })
})

describe('when Redis loses a sale', () => {
  it('should rebuild the counters from Postgres: sold from confirmed orders, tokens spent, nothing oversold', async () => {
    await createSale('lost-1', 5)
    const buyers = [await redeem('lost-1'), await redeem('lost-1'), await redeem('lost-1', 'pm_card_chargeDeclined')]
    for (const b of buyers)
      await eventually(async () => ((await sagaStatus(core, b.orderId))?.startsWith('COMP') ? true : undefined))
    await eventually(async () => ((await core.scripts.counters('lost-1')).sold === 2 ? true : undefined))
    const keys = Object.values(core.scripts.keys('lost-1'))
    await core.redis.del(...keys)
    // Redeem during the gap: 503, nothing held.
    const during = await admittedShopper(core.config, 'lost-1')
    const gap = await postRedeem(core, during, 'during-gap-key')
    expect(gap.status).toBe(503)

    const report = await reconcile(core, 'redis-counters')
    expect(report.actions).toContainEqual({
      id: 'lost-1',
      action: 'rebuilt_redis_counters',
      detail: 'sold 2, held 0, available 3, tokens returned 0',
    })
    expect(await core.scripts.counters('lost-1')).toEqual({ stock: 5, available: 3, held: 0, sold: 2 })
    expect((await invariant('lost-1')).ok).toBe(true)
    // A sold token cannot be bought again by someone else; its owner gets the same order back.
    const thief = await admittedShopper(core.config, 'lost-1', { tid: buyers[0]!.tid })
    const stolen = await postRedeem(core, thief, 'thief-key-0001')
    expect(stolen.status).toBe(409)
    // Running it again does nothing: the sale exists in Redis now.
    expect((await reconcile(core, 'redis-counters')).actions).toEqual([])
  })

  it('should keep the unit of an order that committed its hold before the loss, and let its saga finish', async () => {
    await createSale('lost-2', 1)
    const input = await heldCheckout(core, 'lost-2', 'pm_card_visa', 'lost2-key-01')
    const { orderId } = input
    // The saga got past commit-hold, then the process died before confirming.
    const dying = checkoutDeps(core, gateway)
    const store = new SagaStore(core.db)
    const partial = { ...checkoutWorkflow, steps: checkoutWorkflow.steps.slice(0, 4) }
    await runSaga(partial, store, orderId, input, dying)
    await core.db.query(`UPDATE sagas SET status = 'RUNNING' WHERE id = $1`, [orderId])
    await core.redis.del(...Object.values(core.scripts.keys('lost-2')))
    await reconcile(core, 'redis-counters')
    expect(await core.scripts.counters('lost-2')).toEqual({ stock: 1, available: 0, held: 1, sold: 0 })
    expect(await core.scripts.holdState('lost-2', orderId)).toBe('committed')
    await reconcile(core, 'stuck-sagas')
    await waitSaga(orderId, 'COMPLETED')
    expect(await core.scripts.counters('lost-2')).toEqual({ stock: 1, available: 0, held: 0, sold: 1 })
    expect((await invariant('lost-2')).ok).toBe(true)
  })
})

describe('when a hold outlives its order (restored by a rebuild while the saga was compensating)', () => {
  it('should release it on the next sweep, not at its expiry, and return the token', async () => {
    await createSale('lingering-1', 2)
    const failed = await redeem('lingering-1', 'pm_card_chargeDeclined')
    await waitSaga(failed.orderId, 'COMPENSATED')
    // The race: the rebuild read the order while it was still PENDING and restored its hold.
    await core.redis.del(...Object.values(core.scripts.keys('lingering-1')))
    await core.scripts.rebuildSale(
      'lingering-1',
      { stock: 2, perShopperLimit: 1, holdTtlSeconds: 300 },
      {
        sold: 0,
        tokens: [[failed.tid, `1|held|${failed.orderId}|${failed.shopper}`]],
        holds: [[failed.orderId, failed.tid, 1, failed.shopper, Date.now() + 300_000]],
      },
    )
    expect(await core.scripts.counters('lingering-1')).toEqual({ stock: 2, available: 1, held: 1, sold: 0 })
    const report = await reconcile(core, 'expired-holds')
    expect(report.actions).toEqual([{ id: '*', action: 'released_expired_holds', detail: '1' }])
    expect(await core.scripts.counters('lingering-1')).toEqual({ stock: 2, available: 2, held: 0, sold: 0 })
    await eventually(async () =>
      room.outcomes.filter((o) => o.tid === failed.tid && o.outcome === 'returned').length >= 1 ? true : undefined,
    )
  })
})

describe('when an order settles', () => {
  it('should write one notification per order and type, even if the job runs again', async () => {
    await createSale('notify-1', 2)
    const ok = await redeem('notify-1')
    const no = await redeem('notify-1', 'pm_card_chargeDeclined')
    const rows = await eventually(
      async () => {
        const { rows } = await core.db.query(
          `SELECT order_id, type, channel, recipient FROM outbox WHERE order_id = ANY($1) ORDER BY type`,
          [[ok.orderId, no.orderId]],
        )
        return rows.length === 2 ? rows : undefined
      },
      20_000,
      'two notifications',
    )
    expect(rows).toEqual([
      { order_id: ok.orderId, type: 'order.confirmed', channel: 'email', recipient: ok.shopper },
      { order_id: no.orderId, type: 'order.failed', channel: 'email', recipient: no.shopper },
    ])
    // A re-run job (stalled, retried) delivers the same notification again: still one row.
    const sent = await core.db.query(`SELECT payload, recipient FROM outbox WHERE order_id = $1`, [ok.orderId])
    await core.jobs.notifications.remove(`${ok.orderId}.order.confirmed.-`)
    await core.jobs.enqueueNotification(sent.rows[0].payload, sent.rows[0].recipient)
    await eventually(async () =>
      (await core.jobs.notifications.getJob(`${ok.orderId}.order.confirmed.-`))?.finishedOn ? true : undefined,
    )
    expect(
      (await core.db.query(`SELECT count(*)::int AS n FROM outbox WHERE order_id = $1`, [ok.orderId])).rows[0].n,
    ).toBe(1)
  })
})

describe('when an unknown reconciliation job is asked for', () => {
  it('should answer 404 and name the jobs', async () => {
    const res = await core.app.request('/admin/reconcile/everything', { method: 'POST', headers: admin() })
    expect(res.status).toBe(404)
    expect(JSON.stringify(await res.json())).toContain('stuck-sagas')
  })
})
