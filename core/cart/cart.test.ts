import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSale, type TestCore } from '../../test/support/core.ts'
import { uniqueName } from '../../test/support/services.ts'
import { bearer, signUp } from '../account/fixtures.ts'
import { adminCall, call, expectError } from '../catalog/fixtures.ts'
import type { AuthorizeRequest, PaymentGateway } from '../payment/gateway.ts'
import { SimulatedGateway } from '../payment/simulated-gateway.ts'
import { SagaStore } from '../saga/saga.ts'
import { CartStore } from './cart-store.ts'
import { Carts } from './carts.ts'
import { cartHeader, cartSnapshot, startCartCore } from './fixtures.ts'
import { signQuote } from './quote.ts'

const PASSWORD = 'correct horse battery'
let core: TestCore

beforeAll(async () => {
  core = await startCartCore({ SCRYPT_LOG_N: '12' })
  await createTestSale(core, 'drop-console', 5, { sku: 'FG-CONSOLE-1' })
})
afterAll(async () => {
  await core?.destroy()
})

const email = () => `${uniqueName('cart')}@example.com`
const stockOf = async (sku: string) =>
  (await core.db.query<{ stock: number }>('SELECT stock FROM catalog_variants WHERE sku = $1', [sku])).rows[0]!.stock
const setStock = async (sku: string, quantity: number) =>
  expect((await adminCall(core, 'PUT', `/admin/catalog/variants/${sku}/stock`, { quantity })).status).toBe(200)

async function guestCart(lines: Record<string, number>): Promise<string> {
  const created = await call(core, 'POST', '/v1/cart')
  expect(created.status).toBe(201)
  for (const [sku, quantity] of Object.entries(lines)) {
    const put = await call(core, 'PUT', `/v1/cart/lines/${sku}`, { quantity }, cartHeader(created.json.cartId))
    expect(put.status, JSON.stringify(put.json)).toBe(200)
  }
  return created.json.cartId
}

async function settled(orderId: string, auth: { accessToken: string }) {
  await core.carts.settled()
  return call(core, 'GET', `/v1/orders/${orderId}`, undefined, {
    'x-floodgate-session': 'any-session-of-mine-0001',
    ...bearer(auth),
  })
}

describe('when a guest fills a cart', () => {
  it('should show each line with its current price and availability', async () => {
    const cartId = await guestCart({ 'SONIX-BLK': 2, 'ROSSI-COPPER': 1 })
    const view = await call(core, 'GET', '/v1/cart', undefined, cartHeader(cartId))

    expect(view.status).toBe(200)
    expect(view.json).toMatchObject({ cartId, accountId: null, subtotalCents: 2 * 19900 + 94900, currency: 'USD' })
    expect(view.json.lines).toEqual([
      expect.objectContaining({
        sku: 'ROSSI-COPPER',
        quantity: 1,
        unitPriceCents: 94900,
        state: 'low_stock',
        available: 1,
      }),
      expect.objectContaining({
        sku: 'SONIX-BLK',
        quantity: 2,
        unitPriceCents: 19900,
        lineTotalCents: 39800,
        state: 'in_stock',
      }),
    ])
  })

  it("should refuse a drop's SKU with 409 naming it and linking to the waiting room", async () => {
    const cartId = await guestCart({})
    const before = await cartSnapshot(core)
    const answer = await call(core, 'PUT', '/v1/cart/lines/FG-CONSOLE-1', { quantity: 1 }, cartHeader(cartId))

    expectError(answer, 409, 'drop_sku', 'FG-CONSOLE-1')
    expect(answer.json.error.message).toContain('/sales/drop-console')
    expect(answer.headers.get('link')).toBe('</sales/drop-console>; rel="waiting-room"')
    expect(await cartSnapshot(core)).toEqual(before)
  })
})

describe('when a guest logs in with a cart', () => {
  it('should merge it into the account cart (summed, capped, out of stock flagged), idempotently', async () => {
    const auth = await signUp(core, email())
    expect((await call(core, 'PUT', '/v1/cart/lines/SONIX-BLK', { quantity: 5 }, bearer(auth))).status).toBe(200)
    const guest = await guestCart({ 'SONIX-BLK': 8, 'BRULEE-TORCH': 1, 'KOTO-SPORT': 2 })

    const login = await call(core, 'POST', '/v1/auth/login', {
      email: auth.account.email,
      password: PASSWORD,
      cartId: guest,
    })
    expect(login.status).toBe(200)
    const lines = (cart: { lines: Array<{ sku: string; quantity: number; state: string }> }) =>
      cart.lines.map((l) => [l.sku, l.quantity, l.state])
    expect(lines(login.json.cart)).toEqual([
      ['BRULEE-TORCH', 1, 'in_stock'],
      ['KOTO-SPORT', 2, 'out_of_stock'],
      ['SONIX-BLK', 10, 'in_stock'],
    ])
    expect(login.json.cart.notices).toEqual(
      expect.arrayContaining([
        { sku: 'SONIX-BLK', kind: 'capped' },
        { sku: 'KOTO-SPORT', kind: 'out_of_stock' },
      ]),
    )
    const before = await cartSnapshot(core)
    const again = await call(core, 'POST', '/v1/cart/merge', { cartId: guest }, bearer(login.json))
    expect(lines(again.json)).toEqual(lines(login.json.cart))
    expect((await cartSnapshot(core))['cart_lines']).toEqual(before['cart_lines'])
    expectError(await call(core, 'GET', '/v1/cart', undefined, cartHeader(guest)), 404, 'cart_not_found')
    // Another account presenting the merged cart still signs in; the cart is not theirs to merge.
    const other = await signUp(core, email())
    const theirs = await call(core, 'POST', '/v1/auth/login', {
      email: other.account.email,
      password: PASSWORD,
      cartId: guest,
    })
    expect(theirs.status).toBe(200)
    expect(theirs.json).toMatchObject({ cart: null, cartError: { code: 'cart_not_found', field: 'cartId' } })
  })
})

describe('when a signed-in shopper checks out a cart', () => {
  it('should charge the quoted prices, reserve every line, confirm a multi-line order and list its lines', async () => {
    const auth = await signUp(core, email())
    for (const [sku, quantity] of [
      ['BRULEE-TORCH', 2],
      ['SONIX-BLK', 1],
    ] as const) {
      expect((await call(core, 'PUT', `/v1/cart/lines/${sku}`, { quantity }, bearer(auth))).status).toBe(200)
    }
    const [torch, sonix] = [await stockOf('BRULEE-TORCH'), await stockOf('SONIX-BLK')]
    const quote = await call(core, 'POST', '/v1/cart/quote', undefined, bearer(auth))
    expect(quote.json).toMatchObject({ totalCents: 2 * 3900 + 19900, currency: 'USD' })
    // A price change after the quote: the quote's price holds for 15 minutes.
    expect(
      (await adminCall(core, 'PUT', '/admin/catalog/variants/BRULEE-TORCH/price', { listPriceCents: 4900 })).status,
    ).toBe(200)

    const checkout = await call(
      core,
      'POST',
      '/v1/cart/checkout',
      { quote: quote.json.quote },
      { ...bearer(auth), 'idempotency-key': 'cart-order-0001' },
    )
    expect(checkout.status, JSON.stringify(checkout.json)).toBe(202)
    const retry = await call(
      core,
      'POST',
      '/v1/cart/checkout',
      { quote: quote.json.quote },
      { ...bearer(auth), 'idempotency-key': 'cart-order-0001' },
    )
    expect(retry.json.orderId).toBe(checkout.json.orderId)

    const order = await settled(checkout.json.orderId, auth)
    expect(order.json).toMatchObject({
      orderId: checkout.json.orderId,
      saleId: null,
      status: 'confirmed',
      amountCents: 27700,
      currency: 'USD',
    })
    expect(order.json.lines).toEqual([
      { sku: 'BRULEE-TORCH', name: expect.any(String), quantity: 2, unitPriceCents: 3900, currency: 'USD' },
      { sku: 'SONIX-BLK', name: expect.any(String), quantity: 1, unitPriceCents: 19900, currency: 'USD' },
    ])
    expect([await stockOf('BRULEE-TORCH'), await stockOf('SONIX-BLK')]).toEqual([torch - 2, sonix - 1])
    expect((await call(core, 'GET', '/v1/cart', undefined, bearer(auth))).json.lines).toEqual([])
    const { rows } = await core.db.query('SELECT status FROM payments WHERE order_id = $1', [checkout.json.orderId])
    expect(rows[0].status).toBe('CAPTURED')
    expect(
      (await core.db.query('SELECT status FROM cart_reservations WHERE order_id = $1', [checkout.json.orderId])).rows[0]
        .status,
    ).toBe('sold')
  })

  it('should take no stock at all when one line is short (all or nothing), naming the SKU', async () => {
    const auth = await signUp(core, email())
    await setStock('ROSSI-STEEL', 2)
    for (const [sku, quantity] of [
      ['BASSLINE-PARTY', 3],
      ['ROSSI-STEEL', 2],
    ] as const) {
      expect((await call(core, 'PUT', `/v1/cart/lines/${sku}`, { quantity }, bearer(auth))).status).toBe(200)
    }
    const quote = await call(core, 'POST', '/v1/cart/quote', undefined, bearer(auth))
    await setStock('ROSSI-STEEL', 1)
    const before = await cartSnapshot(core)

    const answer = await call(
      core,
      'POST',
      '/v1/cart/checkout',
      { quote: quote.json.quote },
      { ...bearer(auth), 'idempotency-key': 'cart-short-0001' },
    )
    expectError(answer, 409, 'insufficient_stock', 'ROSSI-STEEL')
    expect(await cartSnapshot(core)).toEqual(before)
  })

  it('should void the payment and give the stock back when the card is declined', async () => {
    const auth = await signUp(core, email())
    expect((await call(core, 'PUT', '/v1/cart/lines/BASSLINE-PARTY', { quantity: 2 }, bearer(auth))).status).toBe(200)
    const stock = await stockOf('BASSLINE-PARTY')
    const quote = await call(core, 'POST', '/v1/cart/quote', undefined, bearer(auth))
    const checkout = await call(
      core,
      'POST',
      '/v1/cart/checkout',
      { quote: quote.json.quote, paymentMethod: 'pm_card_chargeDeclined' },
      { ...bearer(auth), 'idempotency-key': 'cart-declined-01' },
    )
    expect(checkout.status).toBe(202)

    const order = await settled(checkout.json.orderId, auth)
    expect(order.json).toMatchObject({ status: 'failed', failureReason: expect.stringMatching(/declined/) })
    expect(await stockOf('BASSLINE-PARTY')).toBe(stock)
    expect(
      (await core.db.query('SELECT status FROM cart_reservations WHERE order_id = $1', [checkout.json.orderId])).rows[0]
        .status,
    ).toBe('released')
  })

  it('should give a lapsed reservation back on the sweep, and fail its order at the pivot, voided', async () => {
    const auth = await signUp(core, email())
    expect((await call(core, 'PUT', '/v1/cart/lines/BASSLINE-PARTY', { quantity: 1 }, bearer(auth))).status).toBe(200)
    const stock = await stockOf('BASSLINE-PARTY')
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const sim = new SimulatedGateway({ latencyMs: 0 })
    const gated: PaymentGateway = Object.assign(Object.create(sim) as SimulatedGateway, {
      authorize: async (request: AuthorizeRequest) => {
        await gate
        return sim.authorize(request)
      },
    })
    // Its clock a minute behind: the reservation it places has lapsed already.
    const carts = new Carts({
      store: new CartStore(core.db),
      catalog: core.storefront.catalog,
      sagas: new SagaStore(core.db),
      checkoutDeps: {
        db: core.db,
        scripts: core.scripts,
        gateway: gated,
        reportToken: async () => {},
        logger: core.logger,
      },
      logger: core.logger,
      quoteSecret: core.config.CART_QUOTE_SECRET,
      reservationSeconds: 5,
      staleSagaMs: 60_000,
      now: () => Date.now() - 60_000,
    })
    const quote = await carts.quote(auth.account.id)
    const { orderId } = await carts.checkout(auth.account.id, quote.quote, 'pm_card_visa', 'cart-lapsed-0001')
    expect(await stockOf('BASSLINE-PARTY')).toBe(stock - 1)

    expect(await carts.sweep()).toMatchObject({ released: 1 })
    expect(await stockOf('BASSLINE-PARTY')).toBe(stock)
    open()
    await carts.settled()

    const order = await settled(orderId, auth)
    expect(order.json).toMatchObject({ status: 'failed', failureReason: 'reservation_expired' })
    expect([...sim.ledger.values()].map((p) => p.state)).toEqual(['voided'])
    expect(await stockOf('BASSLINE-PARTY')).toBe(stock)
    expect(await carts.sweep()).toMatchObject({ released: 0 })
  })
})

describe("when a cart request is malformed or not the caller's", () => {
  it('should refuse it with a 4xx naming the field and change nothing', async () => {
    const auth = await signUp(core, email())
    const other = await signUp(core, email())
    expect((await call(core, 'PUT', '/v1/cart/lines/BRULEE-TORCH', { quantity: 1 }, bearer(auth))).status).toBe(200)
    expect((await call(core, 'PUT', '/v1/cart/lines/BRULEE-TORCH', { quantity: 1 }, bearer(other))).status).toBe(200)
    const quote = (await call(core, 'POST', '/v1/cart/quote', undefined, bearer(auth))).json
    const othersQuote = (await call(core, 'POST', '/v1/cart/quote', undefined, bearer(other))).json
    const guest = await guestCart({ 'SONIX-BLK': 1 })
    const payload = JSON.parse(Buffer.from(quote.quote.split('.')[1], 'base64url').toString())
    const expired = signQuote({ ...payload, exp: Math.floor(Date.now() / 1000) - 1 }, core.config.CART_QUOTE_SECRET)
    const cheaper = signQuote({ ...payload, total: 1 }, 'not-the-quote-secret-0123456789abcdef')
    const [head, , sig] = auth.accessToken.split('.')
    const raised = `${head}.${Buffer.from(JSON.stringify({ sub: other.account.id })).toString('base64url')}.${sig}`
    const key = { 'idempotency-key': 'cart-bad-input-01' }
    const before = await cartSnapshot(core)

    const cases: Array<[string, string, unknown, Record<string, string>, number, string, string | undefined]> = [
      ['PUT', '/v1/cart/lines/SONIX-BLK', { quantity: '2' }, bearer(auth), 400, 'invalid_body', 'quantity'],
      ['PUT', '/v1/cart/lines/SONIX-BLK', { quantity: 0 }, bearer(auth), 400, 'invalid_body', 'quantity'],
      ['PUT', '/v1/cart/lines/SONIX-BLK', { quantity: 11 }, bearer(auth), 400, 'invalid_body', 'quantity'],
      ['PUT', '/v1/cart/lines/SONIX-BLK', { quantity: 1, price: 1 }, bearer(auth), 400, 'invalid_body', undefined],
      ['PUT', '/v1/cart/lines/SONIX-BLK', '{"quantity":', bearer(auth), 400, 'invalid_json', undefined],
      ['PUT', '/v1/cart/lines/no%20such', { quantity: 1 }, bearer(auth), 400, 'invalid_path', 'sku'],
      ['PUT', '/v1/cart/lines/NO-SUCH-SKU', { quantity: 1 }, bearer(auth), 404, 'variant_not_found', 'sku'],
      ['DELETE', '/v1/cart/lines/SONIX-WHT', undefined, bearer(auth), 404, 'cart_line_not_found', 'sku'],
      ['GET', '/v1/cart', undefined, {}, 404, 'cart_not_found', 'x-floodgate-cart'],
      ['GET', '/v1/cart', undefined, cartHeader('cart_1'), 400, 'invalid_body', 'x-floodgate-cart'],
      ['GET', '/v1/cart', undefined, cartHeader(`cart_${'0'.repeat(32)}`), 404, 'cart_not_found', 'x-floodgate-cart'],
      [
        'PUT',
        '/v1/cart/lines/SONIX-BLK',
        { quantity: 1 },
        { authorization: `Bearer ${raised}` },
        401,
        'access_token_bad_signature',
        'authorization',
      ],
      ['POST', '/v1/cart/merge', { cartId: guest }, {}, 401, 'sign_in_required', 'authorization'],
      ['POST', '/v1/cart/merge', { cartId: guest, force: true }, bearer(auth), 400, 'invalid_body', undefined],
      ['POST', '/v1/cart/merge', { cartId: 7 }, bearer(auth), 400, 'invalid_body', 'cartId'],
      [
        'POST',
        '/v1/cart/quote',
        undefined,
        { authorization: 'Bearer a.b.c' },
        401,
        'access_token_malformed',
        'authorization',
      ],
      [
        'POST',
        '/v1/cart/checkout',
        { quote: quote.quote },
        bearer(auth),
        400,
        'missing_idempotency_key',
        'idempotency-key',
      ],
      [
        'POST',
        '/v1/cart/checkout',
        { quote: quote.quote },
        { ...bearer(auth), 'idempotency-key': 'x' },
        400,
        'invalid_idempotency_key',
        'idempotency-key',
      ],
      ['POST', '/v1/cart/checkout', { quote: 42 }, { ...bearer(auth), ...key }, 400, 'invalid_body', 'quote'],
      [
        'POST',
        '/v1/cart/checkout',
        { quote: quote.quote, totalCents: 1 },
        { ...bearer(auth), ...key },
        400,
        'invalid_body',
        undefined,
      ],
      ['POST', '/v1/cart/checkout', { quote: expired }, { ...bearer(auth), ...key }, 409, 'quote_expired', 'quote'],
      ['POST', '/v1/cart/checkout', { quote: cheaper }, { ...bearer(auth), ...key }, 409, 'quote_invalid', 'quote'],
      [
        'POST',
        '/v1/cart/checkout',
        { quote: othersQuote.quote },
        { ...bearer(auth), ...key },
        409,
        'quote_invalid',
        'quote',
      ],
      ['POST', '/v1/cart/checkout', { quote: quote.quote }, { ...key }, 401, 'sign_in_required', 'authorization'],
    ]
    for (const [method, path, body, headers, status, code, field] of cases) {
      const answer = await call(core, method, path, body, headers)
      expectError(answer, status, code, field)
      if (code === 'invalid_body' && field === undefined) expect(answer.json.error.message).toMatch(/unrecognized/i)
    }
    expect(await cartSnapshot(core)).toEqual(before)
  })
})
