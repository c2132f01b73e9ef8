import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  edgeReceiptHeader,
  ERROR_CODES,
  shopperOf,
  signGrant,
  signPurchaseToken,
  type ErrorBody,
  type RedeemResponse,
} from '../contracts/index.ts'
import { eventually, startTestCore, type TestCore } from '../test/support/core.ts'
import { RoomDouble } from '../test/support/room-double.ts'
import { snapshotState } from '../test/support/state.ts'
import { admittedShopper } from '../test/support/tokens.ts'

let core: TestCore
let room: RoomDouble
const SALE = 'bad-input-1'
const adminHeaders = () => ({
  authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`,
  'content-type': 'application/json',
})
const internalHeaders = () => ({
  authorization: `Bearer ${core.config.CORE_INTERNAL_TOKEN}`,
  'content-type': 'application/json',
})
const validSale = () => ({
  saleId: 'new-sale-1',
  sku: 'SKU-9',
  name: 'Console',
  priceCents: 49900,
  stock: 10,
  startsAt: '2026-12-01T00:00:00Z',
})
const snapshot = () => snapshotState(core.redis, core.db, core.prefix)

beforeAll(async () => {
  room = await new RoomDouble().start()
  core = await startTestCore({ EDGE_URL: room.url })
  const res = await core.app.request('/admin/sales', {
    method: 'POST',
    headers: adminHeaders(),
    body: JSON.stringify({ ...validSale(), saleId: SALE, stock: 5 }),
  })
  expect(res.status).toBe(201)
})
afterAll(async () => {
  await core?.destroy()
  await room?.close()
})

async function expectError(res: Response, status: number, code: string, field?: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/application\/json/)
  const body = (await res.json()) as ErrorBody
  expect(body.error.code).toBe(code)
  expect(body.error.message.length).toBeGreaterThan(3)
  if (field !== undefined) expect(body.error.field).toBe(field)
  expect(ERROR_CODES[code as keyof typeof ERROR_CODES]).toBe(status)
}

describe('when an operator sends a bad sale', () => {
  const cases: Array<[string, string | Record<string, unknown>, number, string, string?]> = [
    ['malformed JSON', '{"saleId": "x",', 400, 'invalid_json'],
    ['a stock that is a string', { ...validSale(), stock: '10' }, 400, 'invalid_body', 'stock'],
    ['a negative price', { ...validSale(), priceCents: -1 }, 400, 'invalid_body', 'priceCents'],
    ['no sku', { ...validSale(), sku: undefined }, 400, 'invalid_body', 'sku'],
    ['a sale id with a hash-tag brace', { ...validSale(), saleId: 'evil}{x' }, 400, 'invalid_body', 'saleId'],
    ['an unknown field', { ...validSale(), discount: 50 }, 400, 'invalid_body'],
    ['a start that is not a date', { ...validSale(), startsAt: 'tomorrow' }, 400, 'invalid_body', 'startsAt'],
    ['a body over the limit', { ...validSale(), name: 'x'.repeat(9000) }, 413, 'body_too_large'],
  ]
  it.each(cases)('should refuse %s and change nothing', async (_name, body, status, code, field) => {
    const before = await snapshot()
    const res = await core.app.request('/admin/sales', {
      method: 'POST',
      headers: adminHeaders(),
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
    await expectError(res, status, code, field)
    expect(await snapshot()).toEqual(before)
  })

  it('should refuse a request without the admin token', async () => {
    const before = await snapshot()
    const res = await core.app.request('/admin/sales', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(validSale()),
    })
    await expectError(res, 401, 'unauthorized')
    expect(res.headers.get('www-authenticate')).toBe('Bearer')
    expect(await snapshot()).toEqual(before)
  })

  it('should refuse the same sale id with different terms', async () => {
    const before = await snapshot()
    const res = await core.app.request('/admin/sales', {
      method: 'POST',
      headers: adminHeaders(),
      body: JSON.stringify({ ...validSale(), saleId: SALE, stock: 6 }),
    })
    await expectError(res, 409, 'sale_exists', 'stock')
    expect(await snapshot()).toEqual(before)
  })

  it('should refuse a body that is not JSON by type', async () => {
    const res = await core.app.request('/admin/sales', {
      method: 'POST',
      headers: { ...adminHeaders(), 'content-type': 'text/plain' },
      body: JSON.stringify(validSale()),
    })
    await expectError(res, 415, 'unsupported_media_type', 'content-type')
  })
})

describe('when a shopper sends a bad redeem', () => {
  let shopper: Awaited<ReturnType<typeof admittedShopper>>
  beforeEach(async () => {
    shopper = await admittedShopper(core.config, SALE)
  })
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    core.app.request('/v1/redeem', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-floodgate-session': shopper.session,
        'idempotency-key': `k-${shopper.tid}`,
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })

  it('should refuse malformed input with the field named, and change nothing', async () => {
    const before = await snapshot()
    await expectError(await post('{"token":'), 400, 'invalid_json')
    await expectError(await post({ token: 42, grant: shopper.grant }), 400, 'invalid_body', 'token')
    await expectError(await post({ token: shopper.token }), 400, 'invalid_body', 'grant')
    await expectError(
      await post({ token: shopper.token, grant: shopper.grant, paymentMethod: 'card 4242 4242' }),
      400,
      'invalid_body',
      'paymentMethod',
    )
    await expectError(await post({ token: shopper.token, grant: shopper.grant, extra: 1 }), 400, 'invalid_body')
    await expectError(await post({ token: 'x'.repeat(10_000), grant: shopper.grant }), 413, 'body_too_large')
    for (const [header, value, code] of [
      ['idempotency-key', '', 'missing_idempotency_key'],
      ['idempotency-key', 'short', 'invalid_idempotency_key'],
      ['x-floodgate-session', '', 'missing_session'],
      ['x-floodgate-session', 'no spaces allowed here!', 'invalid_session'],
    ] as const)
      await expectError(
        await post({ token: shopper.token, grant: shopper.grant }, { [header]: value }),
        400,
        code,
        header,
      )
    expect(await snapshot()).toEqual(before)
  })

  it('should refuse forged, tampered, expired, transferred and misbound tokens with distinct codes, and change nothing', async () => {
    const before = await snapshot()
    const forgedToken = await signPurchaseToken(
      { sale: SALE, tid: shopper.tid, iat: 1 },
      'an-attacker-secret-of-sufficient-length',
    )
    const [h, p, mac] = shopper.token.split('.') as [string, string, string]
    const tamperedPayload = Buffer.from(
      JSON.stringify({ typ: 'pt', sale: SALE, tid: 'tok_someoneelse000000', iat: 1 }),
    ).toString('base64url')
    const expired = await admittedShopper(core.config, SALE, { ttlMs: -1000 })
    const forgedGrant = await signGrant(
      { sale: SALE, tid: shopper.tid, gen: 1, sub: shopper.shopper, iat: 1, exp: Date.now() + 60_000 },
      'an-attacker-secret-of-sufficient-length',
    )
    const otherToken = await admittedShopper(core.config, SALE)
    const thief = await admittedShopper(core.config, SALE)

    await expectError(await post({ token: 'not-a-token', grant: shopper.grant }), 400, 'token_malformed', 'token')
    await expectError(await post({ token: forgedToken, grant: shopper.grant }), 403, 'token_bad_signature', 'token')
    await expectError(
      await post({ token: `${h}.${tamperedPayload}.${mac}`, grant: shopper.grant }),
      403,
      'token_bad_signature',
      'token',
    )
    await expectError(await post({ token: shopper.token, grant: 'fgg1.nope' }), 400, 'grant_malformed', 'grant')
    await expectError(await post({ token: shopper.token, grant: forgedGrant }), 403, 'grant_bad_signature', 'grant')
    await expectError(
      await post({ token: expired.token, grant: expired.grant }, { 'x-floodgate-session': expired.session }),
      410,
      'grant_expired',
      'grant',
    )
    // a grant copied to another browser session
    await expectError(
      await post({ token: shopper.token, grant: shopper.grant }, { 'x-floodgate-session': thief.session }),
      403,
      'grant_session_mismatch',
      'grant',
    )
    // a valid grant presented with a different token
    await expectError(
      await post({ token: otherToken.token, grant: shopper.grant }),
      403,
      'grant_token_mismatch',
      'grant',
    )
    // a token for a sale that does not exist
    const ghost = await admittedShopper(core.config, 'no-such-sale')
    await expectError(
      await post({ token: ghost.token, grant: ghost.grant }, { 'x-floodgate-session': ghost.session }),
      404,
      'sale_not_found',
    )
    expect(await snapshot()).toEqual(before)
  })

  it('should refuse a token reused by another shopper, and a reused key, without touching stock', async () => {
    const first = await post({ token: shopper.token, grant: shopper.grant })
    expect(first.status).toBe(202)
    const { orderId } = (await first.json()) as RedeemResponse
    // Quiet first: the order confirmed, its saga finished (captured, finalized) and its notification written.
    await eventually(async () => {
      const { rows } = await core.db.query(
        `SELECT o.status, s.status AS saga, (SELECT count(*)::int FROM outbox WHERE order_id = o.id) AS notified
         FROM orders o JOIN sagas s ON s.id = o.id WHERE o.id = $1`,
        [orderId],
      )
      return rows[0]?.status === 'CONFIRMED' && rows[0]?.saga === 'COMPLETED' && rows[0]?.notified === 1
        ? true
        : undefined
    })
    const before = await snapshot()
    // Another shopper got a grant for the same token at the same generation (a replayed room answer).
    const replayer = await admittedShopper(core.config, SALE, { tid: shopper.tid })
    await expectError(
      await post(
        { token: replayer.token, grant: replayer.grant },
        { 'x-floodgate-session': replayer.session, 'idempotency-key': 'replayer-key-1' },
      ),
      409,
      'token_used',
    )
    const other = await admittedShopper(core.config, SALE)
    await expectError(
      await post(
        { token: other.token, grant: other.grant },
        { 'x-floodgate-session': other.session, 'idempotency-key': `k-${shopper.tid}` },
      ),
      422,
      'idempotency_key_conflict',
    )
    expect(await snapshot()).toEqual(before)
  })
})

describe('when other endpoints get bad input', () => {
  it('should refuse bad paths, sessions and internal bodies with JSON errors', async () => {
    const before = await snapshot()
    await expectError(await core.app.request('/v1/sales/Bad_Id!'), 400, 'invalid_path', 'saleId')
    await expectError(await core.app.request('/v1/sales/unknown-sale'), 404, 'sale_not_found')
    await expectError(await core.app.request('/v1/orders/ord_nothex'), 400, 'invalid_path', 'orderId')
    await expectError(await core.app.request(`/v1/orders/ord_${'0'.repeat(32)}`), 400, 'missing_session')
    await expectError(
      await core.app.request(`/v1/orders/ord_${'0'.repeat(32)}`, {
        headers: { 'x-floodgate-session': 'a'.repeat(22) },
      }),
      404,
      'order_not_found',
    )
    await expectError(await core.app.request('/nowhere'), 404, 'not_found')
    const session = { headers: { 'x-floodgate-session': 'a'.repeat(22) } }
    await expectError(
      await core.app.request(`/v1/orders/ord_${'0'.repeat(32)}?waitMs=soon`, session),
      400,
      'invalid_query',
      'waitMs',
    )
    await expectError(
      await core.app.request(`/v1/orders/ord_${'0'.repeat(32)}?waitMs=60000`, session),
      400,
      'invalid_query',
      'waitMs',
    )
    await expectError(await core.app.request(`/v1/orders/ord_${'0'.repeat(32)}?wait=1`, session), 400, 'invalid_query')
    const expire = (body: string, headers = internalHeaders()) =>
      core.app.request(`/internal/sales/${SALE}/grants/expire`, { method: 'POST', headers, body })
    await expectError(await expire('{}', adminHeaders()), 401, 'unauthorized')
    await expectError(await expire('[]'), 400, 'invalid_body')
    await expectError(
      await expire(JSON.stringify({ grants: [{ tid: 'short', gen: 1 }] })),
      400,
      'invalid_body',
      'grants.0.tid',
    )
    await expectError(
      await expire(JSON.stringify({ grants: [{ tid: 'tok_aaaaaaaaaaaaaaaa', gen: 0 }] })),
      400,
      'invalid_body',
      'grants.0.gen',
    )
    expect(await snapshot()).toEqual(before)
  })
})

describe('when a client calls the shopper API without the edge', () => {
  it('should answer 401 naming the edge receipt to a missing, forged, misdirected or stale one, and change nothing', async () => {
    const shopper = await admittedShopper(core.config, SALE)
    const before = await snapshot()
    const secret = core.config.CORE_INTERNAL_TOKEN
    const redeem = async (receipt: Record<string, string>) =>
      core.direct.request('/v1/redeem', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-floodgate-session': shopper.session,
          'idempotency-key': 'direct-key-0001',
          ...receipt,
        },
        body: JSON.stringify({ token: shopper.token, grant: shopper.grant }),
      })
    const bound = { sub: await shopperOf(shopper.session), idk: 'direct-key-0001' }

    const answers = [
      await redeem({}),
      await redeem(await edgeReceiptHeader('x'.repeat(48), 'POST', '/v1/redeem', bound)),
      await redeem(await edgeReceiptHeader(secret, 'POST', '/v1/sales/other', bound)),
      await redeem(await edgeReceiptHeader(secret, 'POST', '/v1/redeem', { ...bound, at: Date.now() - 61_000 })),
      await core.direct.request(`/v1/sales/${SALE}`),
      await core.direct.request('/v1/search?q=anything'),
    ]

    for (const res of answers) await expectError(res, 401, 'unauthorized', 'x-floodgate-edge-receipt')
    expect(await snapshot()).toEqual(before)
    // The same redeem with the edge's receipt goes through.
    expect((await redeem(await edgeReceiptHeader(secret, 'POST', '/v1/redeem', bound))).status).toBe(202)
  })
})

describe('when someone reads the metrics', () => {
  it('should answer 401 without the metrics token and the Prometheus text with it', async () => {
    await expectError(await core.app.request('/metrics'), 401, 'unauthorized')
    await expectError(
      await core.app.request('/metrics', { headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}` } }),
      401,
      'unauthorized',
    )
    const ok = await core.app.request('/metrics', { headers: { authorization: `Bearer ${core.config.METRICS_TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toMatch(/floodgate_redeem_total/)
  })
})
