import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeStripe } from '../../test/support/stripe-fake.ts'
import { paymentKey } from './keys.ts'
import { GatewayRejectedError, GatewayUnavailableError } from './gateway.ts'
import { StripeGateway } from './stripe-gateway.ts'

const orderId = () => `ord_${randomBytes(16).toString('hex')}`
const authorizeRequest = (id: string, paymentMethod = 'pm_card_visa') => ({
  orderId: id,
  amountCents: 4999,
  currency: 'USD',
  paymentMethod,
  idempotencyKey: paymentKey(id, 'authorize'),
})

describe('StripeGateway against the offline fixture server', () => {
  let fake: FakeStripe
  let gateway: StripeGateway
  beforeAll(async () => {
    fake = await new FakeStripe().start()
  })
  afterAll(async () => fake?.close())
  beforeEach(() => {
    fake.faults = {}
    gateway = new StripeGateway({
      secretKey: 'sk_test_offline',
      apiBase: fake.url,
      timeoutMs: 400,
      maxNetworkRetries: 0,
    })
  })

  describe('when authorizing a good card', () => {
    it('should create one manual-capture PaymentIntent, confirmed, keyed by the order', async () => {
      const id = orderId()
      const result = await gateway.authorize(authorizeRequest(id))
      expect(result.status).toBe('authorized')
      const [request] = fake.requests.filter((r) => r.params['metadata[floodgate_order]'] === id)
      expect(request).toMatchObject({
        method: 'POST',
        path: '/v1/payment_intents',
        idempotencyKey: `floodgate:${id}:authorize`,
        params: {
          amount: '4999',
          currency: 'usd',
          capture_method: 'manual',
          confirm: 'true',
          payment_method: 'pm_card_visa',
        },
      })
      expect(fake.intentsFor(id)).toMatchObject([{ status: 'requires_capture', amount: 4999 }])
    })

    it('should answer the same intent when retried with the same key', async () => {
      const id = orderId()
      const first = await gateway.authorize(authorizeRequest(id))
      const again = await gateway.authorize(authorizeRequest(id))
      expect(again).toEqual(first)
      expect(fake.intentsFor(id)).toHaveLength(1)
    })
  })

  describe('when the card is declined', () => {
    it('should say declined with the decline code, not throw', async () => {
      const id = orderId()
      expect(await gateway.authorize(authorizeRequest(id, 'pm_card_chargeDeclined'))).toEqual({
        status: 'declined',
        reason: 'generic_decline',
      })
    })
  })

  describe('when Stripe answers 500', () => {
    it('should throw GatewayUnavailableError, and a retry with the same key should authorize once', async () => {
      const id = orderId()
      fake.faults = { errorRate: 1 }
      await expect(gateway.authorize(authorizeRequest(id))).rejects.toBeInstanceOf(GatewayUnavailableError)
      expect(fake.intentsFor(id)).toHaveLength(0)
      fake.faults = {}
      expect((await gateway.authorize(authorizeRequest(id))).status).toBe('authorized')
      expect(fake.intentsFor(id)).toHaveLength(1)
      const keys = fake.requests
        .filter((r) => r.path === '/v1/payment_intents' && r.params['metadata[floodgate_order]'] === id)
        .map((r) => r.idempotencyKey)
      expect(keys).toEqual([`floodgate:${id}:authorize`, `floodgate:${id}:authorize`])
    })
  })

  describe('when the answer is lost (timeout) after Stripe did the work', () => {
    it('should throw GatewayUnavailableError, and the retry should get the same intent back', async () => {
      const id = orderId()
      fake.faults = { lostRate: 1, hangMs: 2_000 }
      await expect(gateway.authorize(authorizeRequest(id))).rejects.toBeInstanceOf(GatewayUnavailableError)
      expect(fake.intentsFor(id)).toHaveLength(1)
      fake.faults = {}
      const retry = await gateway.authorize(authorizeRequest(id))
      expect(retry).toEqual({ status: 'authorized', ref: fake.intentsFor(id)[0]!.id })
      expect(fake.intentsFor(id)).toHaveLength(1)
    })
  })

  describe('when capturing', () => {
    it('should capture once however often it is retried, with the capture key', async () => {
      const id = orderId()
      const auth = await gateway.authorize(authorizeRequest(id))
      if (auth.status !== 'authorized') throw new Error('expected an authorization')
      fake.faults = { lostRate: 1, hangMs: 2_000 }
      await expect(
        gateway.capture({ ref: auth.ref, amountCents: 4999, idempotencyKey: paymentKey(id, 'capture') }),
      ).rejects.toBeInstanceOf(GatewayUnavailableError)
      fake.faults = {}
      await gateway.capture({ ref: auth.ref, amountCents: 4999, idempotencyKey: paymentKey(id, 'capture') })
      await gateway.capture({ ref: auth.ref, amountCents: 4999, idempotencyKey: 'another-key-for-the-same-capture' })
      expect(fake.intentsFor(id)).toMatchObject([{ status: 'succeeded', amountReceived: 4999, captures: 1 }])
      expect(fake.requests.find((r) => r.path.endsWith('/capture') && r.path.includes(auth.ref))?.idempotencyKey).toBe(
        `floodgate:${id}:capture`,
      )
      expect(await gateway.retrieve({ orderId: id, ref: auth.ref })).toEqual({
        state: 'captured',
        ref: auth.ref,
        amountCents: 4999,
        capturedCents: 4999,
        refundedCents: 0,
      })
    })

    it('should refuse to capture a cancelled authorization', async () => {
      const id = orderId()
      const auth = await gateway.authorize(authorizeRequest(id))
      if (auth.status !== 'authorized') throw new Error('expected an authorization')
      await gateway.void({ ref: auth.ref, idempotencyKey: paymentKey(id, 'void') })
      await gateway.void({ ref: auth.ref, idempotencyKey: 'void-again-other-key' })
      await expect(
        gateway.capture({ ref: auth.ref, amountCents: 4999, idempotencyKey: paymentKey(id, 'capture') }),
      ).rejects.toBeInstanceOf(GatewayRejectedError)
      expect(fake.intentsFor(id)).toMatchObject([{ status: 'canceled', captures: 0 }])
    })
  })

  describe('when refunding', () => {
    it('should refund in parts up to the captured amount and no further', async () => {
      const id = orderId()
      const auth = await gateway.authorize(authorizeRequest(id))
      if (auth.status !== 'authorized') throw new Error('expected an authorization')
      await gateway.capture({ ref: auth.ref, amountCents: 4999, idempotencyKey: paymentKey(id, 'capture') })
      const first = await gateway.refund({
        ref: auth.ref,
        amountCents: 1000,
        idempotencyKey: `floodgate:${id}:refund:a`,
      })
      expect(
        await gateway.refund({ ref: auth.ref, amountCents: 1000, idempotencyKey: `floodgate:${id}:refund:a` }),
      ).toEqual(first)
      await gateway.refund({ ref: auth.ref, amountCents: 3999, idempotencyKey: `floodgate:${id}:refund:b` })
      await expect(
        gateway.refund({ ref: auth.ref, amountCents: 1, idempotencyKey: `floodgate:${id}:refund:c` }),
      ).rejects.toBeInstanceOf(GatewayRejectedError)
      expect(await gateway.retrieve({ orderId: id })).toMatchObject({
        state: 'captured',
        capturedCents: 4999,
        refundedCents: 4999,
      })
    })
  })

  describe('when looking up an order Stripe never saw', () => {
    it('should say none', async () => {
      expect(await gateway.retrieve({ orderId: orderId() })).toEqual({
        state: 'none',
        ref: null,
        amountCents: 0,
        capturedCents: 0,
        refundedCents: 0,
      })
    })
  })
})

// Live contract: the same calls against Stripe's test mode. Runs only where STRIPE_SECRET_KEY is set
// (never on the build machine, which cannot reach api.stripe.com).
describe.runIf(process.env.STRIPE_SECRET_KEY)('StripeGateway against Stripe test mode (contract)', () => {
  const gateway = () => new StripeGateway({ secretKey: process.env.STRIPE_SECRET_KEY!, maxNetworkRetries: 2 })

  it('should authorize, capture, refund in part, and find the intent by order id', async () => {
    const g = gateway()
    const id = orderId()
    const auth = await g.authorize(authorizeRequest(id))
    if (auth.status !== 'authorized') throw new Error(`expected an authorization, got ${auth.reason}`)
    expect(await g.authorize(authorizeRequest(id))).toEqual(auth)
    await g.capture({ ref: auth.ref, amountCents: 4999, idempotencyKey: paymentKey(id, 'capture') })
    await g.refund({ ref: auth.ref, amountCents: 1000, idempotencyKey: `floodgate:${id}:refund:contract` })
    expect(await g.retrieve({ orderId: id, ref: auth.ref })).toMatchObject({
      state: 'captured',
      capturedCents: 4999,
      refundedCents: 1000,
    })
  })

  it('should decline pm_card_chargeDeclined and cancel an authorization', async () => {
    const g = gateway()
    expect((await g.authorize(authorizeRequest(orderId(), 'pm_card_chargeDeclined'))).status).toBe('declined')
    const id = orderId()
    const auth = await g.authorize(authorizeRequest(id))
    if (auth.status !== 'authorized') throw new Error('expected an authorization')
    await g.void({ ref: auth.ref, idempotencyKey: paymentKey(id, 'void') })
    expect((await g.retrieve({ orderId: id, ref: auth.ref })).state).toBe('voided')
  })
})
