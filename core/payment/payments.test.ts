import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorBody, Order, Refund } from '../../contracts/index.ts'
import { eventually, startTestCore, type TestCore, createTestSale } from '../../test/support/core.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import { snapshotState } from '../../test/support/state.ts'
import { FakeStripe } from '../../test/support/stripe-fake.ts'
import { redeemAdmitted } from '../../test/support/tokens.ts'

const WEBHOOK_SECRET = 'whsec_offline_test_secret'
let core: TestCore
let room: RoomDouble
let fake: FakeStripe
const admin = (extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`,
  'content-type': 'application/json',
  ...extra,
})

beforeAll(async () => {
  room = await new RoomDouble().start()
  fake = await new FakeStripe().start()
  core = await startTestCore({
    EDGE_URL: room.url,
    PAYMENT_GATEWAY: 'stripe',
    STRIPE_SECRET_KEY: 'sk_test_offline',
    STRIPE_API_BASE: fake.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_TIMEOUT_MS: '500',
    RECONCILE_STALE_MS: '0',
  })
})
afterAll(async () => {
  await core?.destroy()
  await room?.close()
  await fake?.close()
})

const createSale = (saleId: string, stock: number, extra: Record<string, unknown> = {}) =>
  createTestSale(core, saleId, stock, extra)

/** Redeems one token and waits until its saga has finished (completed or compensated). */
async function buy(saleId: string, paymentMethod = 'pm_card_visa'): Promise<{ orderId: string; order: Order }> {
  const { orderId, session } = await redeemAdmitted(core, saleId, paymentMethod)
  await eventually(
    async () => {
      const { rows } = await core.db.query(`SELECT status FROM sagas WHERE id = $1`, [orderId])
      return rows[0]?.status === 'COMPLETED' || rows[0]?.status === 'COMPENSATED' ? true : undefined
    },
    20_000,
    `saga ${orderId}`,
  )
  const order = (await (
    await core.app.request(`/v1/orders/${orderId}`, { headers: { 'x-floodgate-session': session } })
  ).json()) as Order
  return { orderId, order }
}

const payment = async (orderId: string) =>
  (
    await core.db.query('SELECT status, captured_cents::int, refunded_cents::int FROM payments WHERE order_id = $1', [
      orderId,
    ])
  ).rows[0]
const webhookUrl = () => `${core.url}/webhooks/stripe`
const eventsFor = (orderId: string) =>
  fake.events.filter((e) => {
    const o = e.data.object as { metadata?: Record<string, string>; payment_intent?: string }
    return o.metadata?.floodgate_order === orderId || fake.intentsFor(orderId).some((i) => i.id === o.payment_intent)
  })

describe('when checkout runs on the Stripe gateway', () => {
  it('should authorize with manual capture, capture once after confirmation, with keys from the order id', async () => {
    await createSale('stripe-happy', 2)
    const { orderId, order } = await buy('stripe-happy')
    expect(order.status).toBe('confirmed')
    expect(fake.intentsFor(orderId)).toMatchObject([{ status: 'succeeded', captures: 1, amountReceived: 4999 }])
    const keys = fake.requests
      .filter((r) => r.method === 'POST' && r.idempotencyKey?.includes(orderId))
      .map((r) => `${r.path.replace(/pi_\w+/, 'pi')} ${r.idempotencyKey}`)
    expect(keys).toEqual([
      `/v1/payment_intents floodgate:${orderId}:authorize`,
      `/v1/payment_intents/pi/capture floodgate:${orderId}:capture`,
    ])
    expect(await payment(orderId)).toEqual({ status: 'CAPTURED', captured_cents: 4999, refunded_cents: 0 })
  })

  it('should fail a declined card and leave nothing to capture', async () => {
    await createSale('stripe-declined', 1)
    const { orderId, order } = await buy('stripe-declined', 'pm_card_chargeDeclined')
    expect(order).toMatchObject({ status: 'failed', failureReason: 'payment_declined:generic_decline' })
    expect(fake.intentsFor(orderId)).toMatchObject([{ status: 'requires_payment_method', captures: 0 }])
    expect((await payment(orderId)).status).toBe('DECLINED')
  })
})

describe('when Stripe sends webhooks', () => {
  it('should apply each event once, however often it is delivered', async () => {
    await createSale('hook-dup', 1)
    const { orderId } = await buy('hook-dup')
    const events = eventsFor(orderId)
    expect(events.map((e) => e.type)).toEqual(['payment_intent.amount_capturable_updated', 'payment_intent.succeeded'])
    expect(await FakeStripe.deliver(webhookUrl(), WEBHOOK_SECRET, events)).toEqual([200, 200])
    const before = await snapshotState(core.redis, core.db, core.prefix)
    expect(await FakeStripe.deliver(webhookUrl(), WEBHOOK_SECRET, [...events, ...events])).toEqual([200, 200, 200, 200])
    expect(await snapshotState(core.redis, core.db, core.prefix)).toEqual(before)
    const processed = await core.db.query('SELECT id, outcome FROM processed_events WHERE order_id = $1 ORDER BY id', [
      orderId,
    ])
    expect(processed.rows.map((r) => r.id).sort()).toEqual(events.map((e) => e.id).sort())
  })

  it('should never move a payment backwards on a late, out-of-order event', async () => {
    await createSale('hook-late', 1)
    const { orderId } = await buy('hook-late')
    const [authorized, succeeded] = eventsFor(orderId)
    // succeeded first, then the older "authorized" event arrives late
    expect(await FakeStripe.deliver(webhookUrl(), WEBHOOK_SECRET, [succeeded!, authorized!])).toEqual([200, 200])
    expect(await payment(orderId)).toEqual({ status: 'CAPTURED', captured_cents: 4999, refunded_cents: 0 })
  })

  it('should re-read the PaymentIntent instead of trusting what the event says', async () => {
    await createSale('hook-lie', 2)
    const { orderId } = await buy('hook-lie', 'pm_card_chargeDeclined')
    const [failed] = eventsFor(orderId)
    // A correctly signed event whose body claims success (a replay of some other intent's event, edited by us).
    const lie = {
      ...failed!,
      id: 'evt_forged_success_1',
      type: 'payment_intent.succeeded',
      data: { object: { ...(failed!.data.object as object), status: 'succeeded', amount_received: 4999 } },
    } as Stripe.Event
    expect(await FakeStripe.deliver(webhookUrl(), WEBHOOK_SECRET, [lie])).toEqual([200])
    expect(await payment(orderId)).toMatchObject({ status: 'DECLINED', captured_cents: 0 })
  })

  it('should void an authorization that turns up for an order that already failed', async () => {
    await createSale('hook-orphan', 1)
    const { orderId } = await buy('hook-orphan', 'pm_card_chargeDeclined')
    // A stray authorization for the failed order (a retry of some client, another key): Stripe tells us.
    await core.gateway.authorize({
      orderId,
      amountCents: 4999,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      idempotencyKey: `stray-${orderId}`,
    })
    await core.db.query(`UPDATE payments SET status = 'PENDING' WHERE order_id = $1`, [orderId])
    const stray = fake.events.filter(
      (e) =>
        e.type === 'payment_intent.amount_capturable_updated' &&
        (e.data.object as { metadata: Record<string, string> }).metadata.floodgate_order === orderId,
    )
    expect(await FakeStripe.deliver(webhookUrl(), WEBHOOK_SECRET, stray)).toEqual([200])
    expect(
      fake
        .intentsFor(orderId)
        .map((i) => i.status)
        .sort(),
    ).toEqual(['canceled', 'requires_payment_method'])
    expect(fake.intentsFor(orderId).every((i) => i.captures === 0)).toBe(true)
  })

  describe('when the signature is wrong, stale or missing', () => {
    it('should refuse with 400 and change nothing', async () => {
      await createSale('hook-forged', 1)
      const { orderId } = await buy('hook-forged')
      const events = eventsFor(orderId)
      const before = await snapshotState(core.redis, core.db, core.prefix)
      expect(await FakeStripe.deliver(webhookUrl(), 'whsec_someone_else', events)).toEqual([400, 400])
      expect(
        await FakeStripe.deliver(webhookUrl(), WEBHOOK_SECRET, events, {
          timestamp: Math.floor(Date.now() / 1000) - 3600,
        }),
      ).toEqual([400, 400])
      const tampered = await fetch(webhookUrl(), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({
            payload: JSON.stringify(events[0]),
            secret: WEBHOOK_SECRET,
          }),
        },
        body: JSON.stringify({ ...events[0], id: 'evt_tampered' }),
      })
      expect(tampered.status).toBe(400)
      expect(((await tampered.json()) as ErrorBody).error.code).toBe('webhook_signature_invalid')
      const unsigned = await fetch(webhookUrl(), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(events[0]),
      })
      expect(unsigned.status).toBe(400)
      expect(await snapshotState(core.redis, core.db, core.prefix)).toEqual(before)
    })
  })
})

describe('when an operator refunds an order', () => {
  const refund = (orderId: string, key: string | null, body: Record<string, unknown>) =>
    core.app.request(`/admin/orders/${orderId}/refunds`, {
      method: 'POST',
      headers: admin(key ? { 'idempotency-key': key } : {}),
      body: JSON.stringify(body),
    })

  it('should refund in parts, once per key, up to the captured amount', async () => {
    await createSale('refund-1', 1)
    const { orderId } = await buy('refund-1')
    const first = await refund(orderId, 'refund-key-0001', { amountCents: 1000, reason: 'return' })
    expect(first.status).toBe(201)
    expect(await first.json()).toMatchObject({
      orderId,
      amountCents: 1000,
      status: 'succeeded',
      paymentStatus: 'PARTIALLY_REFUNDED',
      refundedCents: 1000,
    })
    const again = await refund(orderId, 'refund-key-0001', { amountCents: 1000, reason: 'return' })
    expect(again.status).toBe(200)
    expect((await refund(orderId, 'refund-key-0001', { amountCents: 999, reason: 'return' })).status).toBe(422)
    const rest = (await (await refund(orderId, 'refund-key-0002', { reason: 'cancellation' })).json()) as Refund
    expect(rest).toMatchObject({
      amountCents: 3999,
      status: 'succeeded',
      paymentStatus: 'REFUNDED',
      refundedCents: 4999,
    })
    const tooMuch = await refund(orderId, 'refund-key-0003', { amountCents: 1 })
    expect(tooMuch.status).toBe(409)
    expect(((await tooMuch.json()) as ErrorBody).error.code).toBe('payment_not_refundable')
    const [intent] = fake.intentsFor(orderId)
    expect([...fake.refunds.values()].filter((r) => r.paymentIntent === intent!.id).map((r) => r.amount)).toEqual([
      1000, 3999,
    ])
    expect(
      fake.requests
        .filter((r) => r.path === '/v1/refunds' && r.params.payment_intent === intent!.id)
        .map((r) => r.idempotencyKey),
    ).toEqual([
      expect.stringMatching(new RegExp(`^floodgate:${orderId}:refund:rf_`)),
      expect.stringMatching(new RegExp(`^floodgate:${orderId}:refund:rf_`)),
    ])
    await eventually(
      async () => {
        const { rows } = await core.db.query(
          `SELECT type, ref FROM outbox WHERE order_id = $1 AND type = 'order.refunded'`,
          [orderId],
        )
        return rows.length === 2 ? rows : undefined
      },
      10_000,
      'two refund notifications',
    )
  })

  it('should refuse a refund larger than what is left, of an uncaptured payment, or without a key', async () => {
    await createSale('refund-2', 2)
    const { orderId } = await buy('refund-2')
    const declined = await buy('refund-2', 'pm_card_chargeDeclined')
    const before = await snapshotState(core.redis, core.db, core.prefix)
    const big = await refund(orderId, 'refund-key-big1', { amountCents: 5000 })
    expect(big.status).toBe(409)
    expect(((await big.json()) as ErrorBody).error).toMatchObject({ code: 'refund_too_large', field: 'amountCents' })
    expect((await refund(declined.orderId, 'refund-key-dec1', {})).status).toBe(409)
    expect((await refund(orderId, null, {})).status).toBe(400)
    expect((await refund(orderId, 'refund-key-bad1', { amountCents: -5 })).status).toBe(400)
    expect(await snapshotState(core.redis, core.db, core.prefix)).toEqual(before)
  })

  it('should keep a refund pending while Stripe is down and finish it on reconciliation', async () => {
    await createSale('refund-3', 1)
    const { orderId } = await buy('refund-3')
    fake.faults = { errorRate: 1 }
    try {
      const res = await refund(orderId, 'refund-key-down', { amountCents: 2000 })
      expect(res.status).toBe(201)
      expect(await res.json()).toMatchObject({ status: 'pending', paymentStatus: 'CAPTURED' })
    } finally {
      fake.faults = {}
    }
    const report = await (
      await core.app.request('/admin/reconcile/pending-refunds', { method: 'POST', headers: admin() })
    ).json()
    expect(report).toMatchObject({ job: 'pending-refunds', actions: [{ id: orderId, action: 'refund_succeeded' }] })
    expect(await payment(orderId)).toEqual({ status: 'PARTIALLY_REFUNDED', captured_cents: 4999, refunded_cents: 2000 })
    expect(fake.intentsFor(orderId)[0]!.amountRefunded).toBe(2000)
  })
})
