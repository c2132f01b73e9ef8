import { env, exports } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  HEADER_EDGE_RECEIPT,
  MAX_ADMIN_BODY_BYTES,
  MAX_BODY_BYTES,
  orderIdOf,
  peekGrant,
  peekPurchaseToken,
  shopperOf,
  verifyEdgeReceipt,
  verifyGrant,
  type RoomStats,
  type RoomStatus,
} from '../contracts/index.ts'
import { makeShoppers, mintTokens, mockCore, roomConfig, uniqueSaleId } from '../waiting-room/fixtures.ts'

const BASE = 'https://edge.test'
const ADMIN = { authorization: `Bearer ${env.EDGE_ADMIN_TOKEN}` }
const JSON_HEADERS = { 'content-type': 'application/json' }

type Init = { method?: string; headers?: Record<string, string>; body?: unknown; raw?: string }

async function call(path: string, { method = 'GET', headers = {}, body, raw }: Init = {}) {
  const res = await exports.default.fetch(
    new Request(`${BASE}${path}`, {
      method,
      headers: body !== undefined || raw !== undefined ? { ...JSON_HEADERS, ...headers } : headers,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    }),
  )
  const text = await res.text()
  return { res, status: res.status, json: text ? (JSON.parse(text) as any) : null }
}

const adminCall = (path: string, init: Init = {}) => call(path, { ...init, headers: { ...ADMIN, ...init.headers } })

async function roomStats(saleId: string): Promise<RoomStats> {
  const { status, json } = await adminCall(`/admin/sales/${saleId}/room`)
  expect(status).toBe(200)
  return json
}

/** A configured sale that opened 10 s ago (so joiners are admitted at once) with `tokens` tokens loaded. */
async function openSale(tokens = 3, overrides: Parameters<typeof roomConfig>[2] = {}) {
  const saleId = uniqueSaleId()
  const configured = await adminCall(`/admin/sales/${saleId}/room`, {
    method: 'PUT',
    body: roomConfig(saleId, Date.now() - 10_000, overrides),
  })
  expect(configured.status).toBe(200)
  const minted = await mintTokens(saleId, tokens)
  if (tokens > 0) {
    const loaded = await adminCall(`/admin/sales/${saleId}/tokens`, { method: 'POST', body: { tokens: minted } })
    expect(loaded.status).toBe(200)
  }
  return { saleId, tokens: minted }
}

/** Joins as an app (its own session in the header) or, without one, as the waiting page does (same origin). */
async function join(saleId: string, session?: string): Promise<RoomStatus> {
  const { status, json } = await call(`/api/sales/${saleId}/join`, {
    method: 'POST',
    headers: session ? { 'x-floodgate-session': session } : SAME_ORIGIN,
  })
  expect(status).toBe(200)
  return json
}

/** What a browser sends with the waiting page's own requests. */
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', origin: BASE }

/** Headers of an app's poll: its session and the queue ticket its join answered. */
const polling = (session: string, joined: RoomStatus) => ({
  'x-floodgate-session': session,
  'x-floodgate-ticket': joined.ticket!,
})

/** The session cookie a response set. */
function sessionCookie(res: Response): string | undefined {
  return /(?:^|[\s,])(?:__Host-)?fg_session=([A-Za-z0-9_-]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1]
}

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('when checking health', () => {
  it('should answer ok', async () => {
    const { status, json } = await call('/healthz')

    expect(status).toBe(200)
    expect(json).toEqual({ ok: true })
  })
})

describe('when a route does not exist', () => {
  it('should answer 404 not_found as JSON', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['DELETE', '/api/sales/some-sale/join'],
    ]) {
      const { res, status, json } = await call(path!, { method })

      expect(status).toBe(404)
      expect(res.headers.get('content-type')).toMatch(/application\/json/)
      expect(json).toMatchObject({ error: { code: 'not_found' } })
    }
  })
})

describe('when calling admin routes without the admin token', () => {
  it('should answer 401 and change nothing', async () => {
    const saleId = uniqueSaleId()
    const config = roomConfig(saleId, Date.now())

    const none = await call(`/admin/sales/${saleId}/room`, { method: 'PUT', body: config })
    const wrong = await call(`/admin/sales/${saleId}/room`, {
      method: 'PUT',
      body: config,
      headers: { authorization: 'Bearer not-the-token' },
    })
    const stats = await call(`/admin/sales/${saleId}/room`)

    for (const r of [none, wrong, stats]) {
      expect(r.status).toBe(401)
      expect(r.json).toMatchObject({ error: { code: 'unauthorized' } })
    }
    expect((await roomStats(saleId)).configured).toBe(false)
  })
})

describe('when configuring a room', () => {
  it('should store the config and return it with defaults applied', async () => {
    const saleId = uniqueSaleId()
    const startsAt = new Date(Date.now() + 60_000).toISOString()

    const { status, json } = await adminCall(`/admin/sales/${saleId}/room`, {
      method: 'PUT',
      body: { saleId, startsAt, admitPerMinute: 1000 },
    })

    expect(status).toBe(200)
    expect(json).toEqual({
      saleId,
      startsAt,
      admitPerMinute: 1000,
      tokenTtlSeconds: 300,
      shards: 1,
      prequeueOrder: 'shuffle',
      joinPolicy: 'anonymous',
      // the pre-queue shuffle's seed commitment, published as soon as the room exists
      commitment: expect.stringMatching(/^[0-9a-f]{64}$/),
    })
    expect((await roomStats(saleId)).configured).toBe(true)
  })

  it('should reject bad input with 4xx naming the field and leave the room unconfigured', async () => {
    const saleId = uniqueSaleId()
    const good = roomConfig(saleId, Date.now())
    const path = `/admin/sales/${saleId}/room`
    const before = await roomStats(saleId)

    const cases = [
      [await adminCall(path, { method: 'PUT', raw: '{"saleId": "x",' }), 400, 'invalid_json', undefined],
      [
        await adminCall(path, { method: 'PUT', body: { ...good, admitPerMinute: 'fast' } }),
        400,
        'invalid_body',
        'admitPerMinute',
      ],
      [
        await adminCall(path, { method: 'PUT', body: { ...good, startsAt: 'tomorrow' } }),
        400,
        'invalid_body',
        'startsAt',
      ],
      [await adminCall(path, { method: 'PUT', body: { saleId, admitPerMinute: 10 } }), 400, 'invalid_body', 'startsAt'],
      [await adminCall(path, { method: 'PUT', body: { ...good, extra: true } }), 400, 'invalid_body', undefined],
      [
        await adminCall(path, { method: 'PUT', body: { ...good, saleId: 'another-sale' } }),
        400,
        'invalid_body',
        'saleId',
      ],
      [await adminCall('/admin/sales/Not_A_Sale/room', { method: 'PUT', body: good }), 400, 'invalid_path', 'saleId'],
      [
        await adminCall(path, {
          method: 'PUT',
          raw: JSON.stringify({ ...good, pad: 'x'.repeat(MAX_ADMIN_BODY_BYTES) }),
        }),
        413,
        'body_too_large',
        undefined,
      ],
    ] as const

    for (const [r, status, code, field] of cases) {
      expect(r.status).toBe(status)
      expect(r.json.error.code).toBe(code)
      if (field) expect(r.json.error.field).toBe(field)
    }
    expect(await roomStats(saleId)).toEqual(before)
  })
})

describe('when loading tokens', () => {
  it('should load a batch and count re-loaded ids as duplicates', async () => {
    const { saleId, tokens } = await openSale(0)
    const path = `/admin/sales/${saleId}/tokens`
    const minted = await mintTokens(saleId, 4)

    const first = await adminCall(path, { method: 'POST', body: { tokens: minted.slice(0, 3) } })
    const again = await adminCall(path, { method: 'POST', body: { tokens: minted } })

    expect(tokens).toEqual([])
    expect(first.json).toEqual({ saleId, loaded: 3, duplicates: 0, total: 3 })
    expect(again.json).toEqual({ saleId, loaded: 1, duplicates: 3, total: 4 })
    expect((await roomStats(saleId)).available).toBe(4)
  })

  it('should reject a batch with a bad token, name it, and store nothing from it', async () => {
    const { saleId } = await openSale(2)
    const path = `/admin/sales/${saleId}/tokens`
    const fresh = await mintTokens(saleId, 2, 100)
    const [foreign] = await mintTokens('another-sale', 1)
    const before = await roomStats(saleId)

    const cases = [
      [await adminCall(path, { method: 'POST', body: { tokens: [fresh[0], 'garbage', fresh[1]] } }), 'tokens.1'],
      [await adminCall(path, { method: 'POST', body: { tokens: [fresh[0], fresh[1], foreign] } }), 'tokens.2'],
      [await adminCall(path, { method: 'POST', body: { tokens: [fresh[0], 42] } }), 'tokens.1'],
      [await adminCall(path, { method: 'POST', body: { tokens: [] } }), 'tokens'],
      [await adminCall(path, { method: 'POST', body: {} }), 'tokens'],
    ] as const

    for (const [r, field] of cases) {
      expect(r.status).toBe(400)
      expect(r.json.error).toMatchObject({ code: 'invalid_body', field })
    }
    expect(await roomStats(saleId)).toEqual(before)
  })
})

describe('when core posts token outcomes', () => {
  it('should apply them and reject malformed ones naming the field', async () => {
    const { saleId } = await openSale(1)
    const shopper = await join(saleId)
    const tid = peekPurchaseToken(shopper.token!)!.tid
    const path = `/admin/sales/${saleId}/tokens/outcomes`

    const bad = await adminCall(path, { method: 'POST', body: { outcomes: [{ tid, gen: 0, outcome: 'sold' }] } })
    const badKind = await adminCall(path, { method: 'POST', body: { outcomes: [{ tid, gen: 1, outcome: 'lost' }] } })
    expect((await roomStats(saleId)).sold).toBe(0)
    const good = await adminCall(path, { method: 'POST', body: { outcomes: [{ tid, gen: 1, outcome: 'sold' }] } })

    expect(bad.json.error).toMatchObject({ code: 'invalid_body', field: 'outcomes.0.gen' })
    expect(badKind.json.error).toMatchObject({ code: 'invalid_body', field: 'outcomes.0.outcome' })
    expect(good.json).toEqual({ applied: 1 })
    expect(await roomStats(saleId)).toMatchObject({ sold: 1, granted: 0 })
  })
})

describe('when a shopper joins', () => {
  it('should mint a session cookie when there is none and admit in order', async () => {
    const { saleId, tokens } = await openSale(2)

    const { res, json } = await call(`/api/sales/${saleId}/join`, { method: 'POST', headers: SAME_ORIGIN })

    // Over https the cookies carry the __Host- prefix; the session never appears in the body.
    const session = sessionCookie(res)
    expect(session).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(json.session).toBeUndefined()
    const cookie = res.headers.get('set-cookie') ?? ''
    expect(cookie).toContain(`__Host-fg_session=${session}`)
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Lax/i)
    expect(cookie).toMatch(/Secure/i)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(json).toMatchObject({ saleId, state: 'admitted', token: tokens[0], refreshMs: 0 })
    const ticket = /__Host-fg_q_[\w]+=([^;]+)/.exec(cookie)?.[1]
    const polled = await call(`/api/sales/${saleId}/status`, {
      headers: { cookie: `__Host-fg_session=${session}; __Host-fg_q_${saleId.replace(/-/g, '_')}=${ticket}` },
    })
    expect(polled.json).toMatchObject({ state: 'admitted', token: tokens[0], grant: json.grant })
    expect(polled.res.headers.get('cache-control')).toBe('no-store')
  })

  it('should bind the grant to the shopper derived from the session', async () => {
    const { saleId } = await openSale(1)
    const [me] = await makeShoppers(1)

    const status = await join(saleId, me!.session)

    const verified = await verifyGrant(status.grant, env.GRANT_SECRET, {
      token: peekPurchaseToken(status.token!)!,
      shopper: await shopperOf(me!.session),
      nowMs: Date.now(),
    })
    expect(verified.ok).toBe(true)
  })

  it('should keep the same place when the same session joins twice', async () => {
    const { saleId } = await openSale(0)
    const people = await makeShoppers(2)

    await join(saleId, people[0]!.session)
    const first = await join(saleId, people[1]!.session)
    const again = await join(saleId, people[1]!.session)

    expect(first).toMatchObject({ state: 'waiting', position: 2, ahead: 1 })
    expect(again).toEqual(first)
    expect((await roomStats(saleId)).queued).toBe(2)
  })

  it('should reject a bad session, a bad sale id and an unconfigured room', async () => {
    const { saleId } = await openSale(1)
    const before = await roomStats(saleId)

    const badSession = await call(`/api/sales/${saleId}/join`, {
      method: 'POST',
      headers: { 'x-floodgate-session': 'not a session' },
    })
    const badCookie = await call(`/api/sales/${saleId}/join`, {
      method: 'POST',
      headers: { ...SAME_ORIGIN, cookie: '__Host-fg_session=short' },
    })
    const badSale = await call('/api/sales/BAD_SALE/join', { method: 'POST', headers: SAME_ORIGIN })
    const unconfigured = await call(`/api/sales/${uniqueSaleId()}/join`, { method: 'POST', headers: SAME_ORIGIN })

    expect(badSession.status).toBe(400)
    expect(badSession.json.error).toMatchObject({ code: 'invalid_session', field: 'x-floodgate-session' })
    expect(badCookie.json.error).toMatchObject({ code: 'invalid_session', field: '__Host-fg_session' })
    expect(badSale.status).toBe(400)
    expect(badSale.json.error).toMatchObject({ code: 'invalid_path', field: 'saleId' })
    expect(badSale.res.headers.get('set-cookie')).toBeNull()
    expect(unconfigured.status).toBe(404)
    expect(unconfigured.json.error.code).toBe('room_not_configured')
    expect(await roomStats(saleId)).toEqual(before)
  })
})

describe('when a shopper polls status', () => {
  it('should need a session and a prior join', async () => {
    const { saleId } = await openSale(1)
    const [stranger] = await makeShoppers(1)

    const none = await call(`/api/sales/${saleId}/status`)
    const never = await call(`/api/sales/${saleId}/status`, { headers: { 'x-floodgate-session': stranger!.session } })

    expect(none.status).toBe(400)
    expect(none.json.error.code).toBe('missing_session')
    // Without a ticket there is no place to find: the edge answers, no object is asked.
    expect(never.status).toBe(404)
    expect(never.json.error).toMatchObject({ code: 'ticket_required', field: 'x-floodgate-ticket' })
    expect(never.json.error.message).toMatch(/join/)
  })
})

describe('when a shopper redeems', () => {
  async function admitted() {
    const { saleId } = await openSale(1)
    const [me] = await makeShoppers(1)
    const status = await join(saleId, me!.session)
    expect(status.state).toBe('admitted')
    return { saleId, session: me!.session, token: status.token!, grant: status.grant! }
  }

  const redeem = (saleId: string, init: Init) => call(`/api/sales/${saleId}/redeem`, { method: 'POST', ...init })

  it('should forward to core with session and key and pass its answer through', async () => {
    const { saleId, session, token, grant } = await admitted()
    const order = { orderId: `ord_${'0'.repeat(32)}`, saleId, status: 'pending', replayed: false }
    const calls = mockCore(async (req) => {
      // What core does with it: verify the grant against the caller's session.
      const body = (await req.json()) as { token: string; grant: string }
      const ok = await verifyGrant(body.grant, env.GRANT_SECRET, {
        token: peekPurchaseToken(body.token)!,
        shopper: await shopperOf(req.headers.get('x-floodgate-session')!),
        nowMs: Date.now(),
      })
      return ok.ok
        ? Response.json(order, { status: 202 })
        : Response.json({ error: { code: ok.code } }, { status: 403 })
    })

    const { status, json } = await redeem(saleId, {
      headers: { 'x-floodgate-session': session, 'idempotency-key': 'attempt-0001' },
      body: { token, grant },
    })

    expect(status).toBe(202)
    expect(json).toEqual(order)
    expect(calls).toHaveLength(1)
    expect(calls[0]!.method).toBe('POST')
    expect(calls[0]!.url).toBe(`${env.CORE_URL}/v1/redeem`)
    expect(calls[0]!.headers.get('x-floodgate-session')).toBe(session)
    expect(calls[0]!.headers.get('idempotency-key')).toBe('attempt-0001')
    expect(calls[0]!.headers.get('content-type')).toBe('application/json')
    expect(JSON.parse(calls[0]!.body)).toEqual({ token, grant, paymentMethod: 'pm_card_visa' })
  })

  it('should pass an error from core through unchanged', async () => {
    const { saleId, session, token, grant } = await admitted()
    const refusal = { error: { code: 'grant_expired', message: 'too late', field: 'grant' } }
    mockCore(() => Response.json(refusal, { status: 410 }))

    const { status, json } = await redeem(saleId, {
      headers: { 'x-floodgate-session': session, 'idempotency-key': 'attempt-0002' },
      body: { token, grant },
    })

    expect(status).toBe(410)
    expect(json).toEqual(refusal)
  })

  it('should reject bad requests before calling core', async () => {
    const { saleId, session, token, grant } = await admitted()
    const calls = mockCore(() => Response.json({}, { status: 500 }))
    const headers = { 'x-floodgate-session': session, 'idempotency-key': 'attempt-0003' }
    const [foreign] = await mintTokens('another-sale', 1)

    const cases = [
      [
        await redeem(saleId, {
          headers: { ...SAME_ORIGIN, 'idempotency-key': 'attempt-0003' },
          body: { token, grant },
        }),
        400,
        'missing_session',
        undefined,
      ],
      [
        await redeem(saleId, { headers: { 'idempotency-key': 'attempt-0003' }, body: { token, grant } }),
        403,
        'cross_site_request',
        'origin',
      ],
      [
        await redeem(saleId, { headers: { ...headers, 'x-floodgate-session': 'bad!' }, body: { token, grant } }),
        400,
        'invalid_session',
        'x-floodgate-session',
      ],
      [
        await redeem(saleId, { headers: { 'x-floodgate-session': session }, body: { token, grant } }),
        400,
        'missing_idempotency_key',
        'idempotency-key',
      ],
      [
        await redeem(saleId, { headers: { ...headers, 'idempotency-key': 'short' }, body: { token, grant } }),
        400,
        'invalid_idempotency_key',
        'idempotency-key',
      ],
      [await redeem(saleId, { headers, raw: '{"token":' }), 400, 'invalid_json', undefined],
      [await redeem(saleId, { headers, body: { token } }), 400, 'invalid_body', 'grant'],
      [await redeem(saleId, { headers, body: { token, grant: 42 } }), 400, 'invalid_body', 'grant'],
      [
        await redeem(saleId, { headers, body: { token, grant, paymentMethod: '4242 4242 4242 4242' } }),
        400,
        'invalid_body',
        'paymentMethod',
      ],
      [
        await redeem(saleId, { headers, raw: JSON.stringify({ token, grant, pad: 'x'.repeat(MAX_BODY_BYTES) }) }),
        413,
        'body_too_large',
        undefined,
      ],
      [await redeem('Bad_Sale', { headers, body: { token, grant } }), 400, 'invalid_path', 'saleId'],
      [await redeem(saleId, { headers, body: { token: foreign, grant } }), 403, 'token_wrong_sale', 'token'],
    ] as const

    for (const [r, status, code, field] of cases) {
      expect({ status: r.status, code: r.json.error.code }).toEqual({ status, code })
      if (field) expect(r.json.error.field).toBe(field)
    }
    expect(calls).toHaveLength(0)
  })

  it('should answer 503 unavailable when core cannot be reached', async () => {
    const { saleId, session, token, grant } = await admitted()
    mockCore(() => {
      throw new TypeError('connect ECONNREFUSED')
    })

    const { status, json } = await redeem(saleId, {
      headers: { 'x-floodgate-session': session, 'idempotency-key': 'attempt-0004' },
      body: { token, grant },
    })

    expect(status).toBe(503)
    expect(json.error.code).toBe('unavailable')
  })
})

describe('when the answer to a redeem can be lost (issue 14)', () => {
  async function admitted() {
    const { saleId } = await openSale(1)
    const [me] = await makeShoppers(1)
    const status = await join(saleId, me!.session)
    expect(status.state).toBe('admitted')
    return { saleId, session: me!.session, shopper: me!.shopper, status }
  }
  const pay = (saleId: string, session: string, status: RoomStatus, key: string) =>
    call(`/api/sales/${saleId}/redeem`, {
      method: 'POST',
      headers: { 'x-floodgate-session': session, 'idempotency-key': key },
      body: { token: status.token, grant: status.grant },
    })

  it('should sign when it received the redeem into the call, bound to the shopper and the key', async () => {
    const { saleId, session, shopper, status } = await admitted()
    const calls = mockCore(() =>
      Response.json({ orderId: `ord_${'0'.repeat(32)}`, saleId, status: 'pending', replayed: false }, { status: 202 }),
    )
    const before = Date.now()
    expect((await pay(saleId, session, status, 'receipt-0001')).status).toBe(202)
    const receipt = calls[0]!.headers.get(HEADER_EDGE_RECEIPT)
    const verdict = await verifyEdgeReceipt(receipt, env.CORE_INTERNAL_TOKEN, {
      req: 'POST /v1/redeem',
      sub: shopper,
      idk: 'receipt-0001',
      nowMs: Date.now(),
    })
    expect(verdict).toMatchObject({ ok: true })
    if (verdict.ok) expect(verdict.receivedAt).toBeGreaterThanOrEqual(before)
  })

  it('should try core again with the same key and receipt when the connection breaks before an answer', async () => {
    const { saleId, session, status } = await admitted()
    const order = { orderId: `ord_${'1'.repeat(32)}`, saleId, status: 'pending', replayed: false }
    let tries = 0
    const calls = mockCore(() => {
      if (++tries === 1) throw new Error('Network connection lost.')
      return Response.json(order, { status: 202 })
    })
    const res = await pay(saleId, session, status, 'lost-conn-0001')
    expect(res.status).toBe(202)
    expect(res.json).toEqual(order)
    expect(calls).toHaveLength(2)
    expect(calls.map((c) => c.headers.get('idempotency-key'))).toEqual(['lost-conn-0001', 'lost-conn-0001'])
    expect(calls[1]!.headers.get(HEADER_EDGE_RECEIPT)).toBe(calls[0]!.headers.get(HEADER_EDGE_RECEIPT))
  })

  it('should show an admitted shopper the order its grant already has, from the id token and generation give', async () => {
    const { saleId, session, status } = await admitted()
    const grant = peekGrant(status.grant!)!
    const orderId = await orderIdOf(saleId, grant.tid, grant.gen)
    const calls = mockCore((req) =>
      req.url.endsWith(`/v1/orders/${orderId}`)
        ? Response.json({ orderId, saleId, status: 'confirmed', amountCents: 1, currency: 'USD', failureReason: null })
        : Response.json({ error: { code: 'order_not_found', message: 'no' } }, { status: 404 }),
    )
    const polled = await call(`/api/sales/${saleId}/status`, { headers: polling(session, status) })
    expect(polled.json).toMatchObject({ state: 'admitted', order: { orderId, status: 'confirmed' } })
    expect(calls[0]!.headers.get('x-floodgate-session')).toBe(session)
  })

  it('should leave the order out while core has none, or cannot be asked', async () => {
    const { saleId, session, status } = await admitted()
    mockCore(() => Response.json({ error: { code: 'order_not_found', message: 'no' } }, { status: 404 }))
    const none = await call(`/api/sales/${saleId}/status`, { headers: polling(session, status) })
    expect(none.json.state).toBe('admitted')
    expect(none.json.order).toBeUndefined()
    vi.restoreAllMocks()
    mockCore(() => {
      throw new TypeError('connect ECONNREFUSED')
    })
    const down = await call(`/api/sales/${saleId}/status`, { headers: polling(session, status) })
    expect(down.status).toBe(200)
    expect(down.json.order).toBeUndefined()
  })

  it('should answer the existing order while the operator holds checkout, and refuse a new one', async () => {
    const { saleId, session, status } = await admitted()
    expect(
      (await adminCall(`/admin/sales/${saleId}/room`, { method: 'PATCH', body: { mode: 'queue_all' } })).status,
    ).toBe(200)
    // A ticketed poll gives this instance the room's snapshot, where the edge reads the operator's hold.
    await call(`/api/sales/${saleId}/status`, {
      headers: { 'x-floodgate-session': session, 'x-floodgate-ticket': status.ticket! },
    })
    const order = { orderId: `ord_${'2'.repeat(32)}`, saleId, status: 'pending', replayed: true }
    const calls = mockCore((req) =>
      req.headers.get('idempotency-key') === 'held-0001'
        ? Response.json(order, { status: 202 })
        : Response.json({ error: { code: 'order_not_found', message: 'no' } }, { status: 404 }),
    )
    const known = await pay(saleId, session, status, 'held-0001')
    expect(known.status).toBe(202)
    expect(known.json).toEqual(order)
    // A second later (past the per-shopper rate limit), a new Pay is still held.
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 1_100)
    const fresh = await pay(saleId, session, status, 'held-0002')
    vi.useRealTimers()
    expect(fresh.status).toBe(503)
    expect(fresh.json.error.code).toBe('unavailable')
    expect(calls.every((c) => c.headers.get('x-floodgate-replay-only') === '1')).toBe(true)
  })
})

describe('when a shopper reads an order', () => {
  it('should forward to core with the session and pass the answer through', async () => {
    const [me] = await makeShoppers(1)
    const orderId = `ord_${'b'.repeat(32)}`
    const order = { orderId, saleId: 'some-sale', status: 'confirmed' }
    const calls = mockCore(() => Response.json(order))

    const ok = await call(`/api/orders/${orderId}`, { headers: { 'x-floodgate-session': me!.session } })
    const badId = await call('/api/orders/ord_nope', { headers: { 'x-floodgate-session': me!.session } })
    const noSession = await call(`/api/orders/${orderId}`)

    expect(ok.json).toEqual(order)
    expect(calls).toHaveLength(1)
    expect(calls[0]!.url).toBe(`${env.CORE_URL}/v1/orders/${orderId}`)
    expect(calls[0]!.headers.get('x-floodgate-session')).toBe(me!.session)
    expect(badId.json.error).toMatchObject({ code: 'invalid_path', field: 'orderId' })
    expect(noSession.json.error.code).toBe('missing_session')
  })
})

describe('when reading sale data', () => {
  it('should serve a 200 from the edge cache on the next request', async () => {
    const saleId = uniqueSaleId()
    const sale = { saleId, name: 'Drop', available: 10 }
    const calls = mockCore(() => Response.json(sale))

    const first = await call(`/api/sales/${saleId}`)
    const second = await call(`/api/sales/${saleId}`)

    expect(first.json).toEqual(sale)
    expect(second.json).toEqual(sale)
    expect(calls).toHaveLength(1)
    expect(calls[0]!.url).toBe(`${env.CORE_URL}/v1/sales/${saleId}`)
    expect(first.res.headers.get('x-floodgate-cache')).toBe('miss')
    expect(second.res.headers.get('x-floodgate-cache')).toBe('hit')
    expect(second.res.headers.get('cache-control')).toBe('public, max-age=2')
  })

  it('should not cache an error from core', async () => {
    const saleId = uniqueSaleId()
    const calls = mockCore(() => Response.json({ error: { code: 'sale_not_found', message: 'no' } }, { status: 404 }))

    const first = await call(`/api/sales/${saleId}`)
    const second = await call(`/api/sales/${saleId}`)

    expect([first.status, second.status]).toEqual([404, 404])
    expect(second.json.error.code).toBe('sale_not_found')
    expect(calls).toHaveLength(2)
  })

  it('should reject a bad sale id and answer 503 when core is down', async () => {
    mockCore(() => {
      throw new TypeError('connect ECONNREFUSED')
    })

    const bad = await call('/api/sales/NOT%20A%20SALE')
    const down = await call(`/api/sales/${uniqueSaleId()}`)

    expect(bad.json.error).toMatchObject({ code: 'invalid_path', field: 'saleId' })
    expect(down.status).toBe(503)
    expect(down.json.error.code).toBe('unavailable')
  })
})
