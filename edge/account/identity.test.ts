import { afterEach, describe, expect, it, vi } from 'vitest'
import { ACCESS_TOKEN_ISSUER, shopperOfAccount, signAccessToken, type RoomStatus } from '../../contracts/index.ts'
import { OTHER_ACCESS_TOKEN_KEY } from '../../test/support/access-keys.ts'
import { callEdge, callEdgeAdmin, makeShoppers, mockCore, openSale } from '../../waiting-room/fixtures.ts'

/** Core's dev-only signing key (core/config.ts DEV_ACCESS_TOKEN_KEY): its public half is wrangler.toml's. */
const DEV_ACCESS_TOKEN_KEY = JSON.stringify({
  kty: 'EC',
  crv: 'P-256',
  x: 'nvEFxm1D3iXPiGhflpXzdX64-rKKM625yfupYanRTIw',
  y: '2zjWs0esmGliqWTsARBkSocu-2ztyUiQ1Xh0Ut0WJSU',
  d: 'JTL_DPXGYNDdZXqJhtIupAQlRjN1bFULYMJKQ2rjzW8',
})

const accountId = () =>
  `acc_${[...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('')}`

async function accessToken(
  sub: string,
  { key = DEV_ACCESS_TOKEN_KEY, ageS = 0, vat }: { key?: string; ageS?: number; vat?: number } = {},
) {
  const iat = Math.floor(Date.now() / 1000) - ageS
  return signAccessToken(
    { iss: ACCESS_TOKEN_ISSUER, sub, role: 'customer', sid: 'fam_test', iat, exp: iat + 600, ...(vat ? { vat } : {}) },
    key,
  )
}

const join = (saleId: string, session: string, token?: string) =>
  callEdge(`/api/sales/${saleId}/join`, {
    method: 'POST',
    headers: { 'x-floodgate-session': session, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  })

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('when one account joins a sale from two sessions', () => {
  it('should hold one place, derived from the account, and hand both sessions the same single grant', async () => {
    const saleId = await openSale('acct', 2)
    const [phone, laptop, stranger] = await makeShoppers(3)
    const account = accountId()
    const token = await accessToken(account)

    const first = await join(saleId, phone!.session, token)
    const second = await join(saleId, laptop!.session, token)
    const other = await join(saleId, stranger!.session)

    expect(first.status).toBe(200)
    expect(second.status).toBe(200)
    const [a, b] = [first.json as RoomStatus, second.json as RoomStatus]
    expect(a.state).toBe('admitted')
    expect(b).toMatchObject({ state: 'admitted', token: a.token, grant: a.grant })
    const sub = JSON.parse(atob(a.grant!.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).sub
    expect(sub).toBe(await shopperOfAccount(account))
    expect(other.json).toMatchObject({ state: 'admitted' })
    expect(other.json.token).not.toBe(a.token)
    const room = (await callEdgeAdmin(`/admin/sales/${saleId}/room`)).json
    expect(room).toMatchObject({ admitted: 2, granted: 2 })
  })

  it('should forward the account to core and share one per-shopper checkout allowance across sessions', async () => {
    const saleId = await openSale('acct', 1)
    const [phone, laptop] = await makeShoppers(2)
    const account = accountId()
    const token = await accessToken(account)
    const status = (await join(saleId, phone!.session, token)).json as RoomStatus
    const calls = mockCore((req) =>
      req.headers.get('x-floodgate-replay-only') === null
        ? Response.json(
            { orderId: `ord_${'b'.repeat(32)}`, saleId, status: 'pending', replayed: false },
            { status: 202 },
          )
        : Response.json({ error: { code: 'order_not_found', message: 'none' } }, { status: 404 }),
    )
    const redeem = (session: string, key: string) =>
      callEdge(`/api/sales/${saleId}/redeem`, {
        method: 'POST',
        headers: {
          'x-floodgate-session': session,
          authorization: `Bearer ${token}`,
          'idempotency-key': key,
          'content-type': 'application/json',
        },
        body: { token: status.token, grant: status.grant },
      })
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now())

    expect((await redeem(phone!.session, 'key-acct-0001')).status).toBe(202)
    const fromLaptop = await redeem(laptop!.session, 'key-acct-0002')

    // One shopper (the account), one allowance: the other device's Pay in the same second is refused.
    expect(fromLaptop.status).toBe(429)
    expect(calls[0]!.headers.get('authorization')).toBe(`Bearer ${token}`)
    const receipt = JSON.parse(
      atob(calls[0]!.headers.get('x-floodgate-edge-receipt')!.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')),
    )
    expect(receipt.sub).toBe(await shopperOfAccount(account))
  })
})

describe('when a sale states who may join', () => {
  it('should refuse a signed-out shopper where accounts are required, and take a signed-in one', async () => {
    const saleId = await openSale('acct', 0, { joinPolicy: 'accounts' })
    const [me] = await makeShoppers(1)

    const anonymous = await join(saleId, me!.session)
    expect(anonymous.status).toBe(401)
    expect(anonymous.json.error).toMatchObject({ code: 'sign_in_required', field: 'authorization' })
    expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`)).json.queued).toBe(0)
    expect((await join(saleId, me!.session, await accessToken(accountId()))).status).toBe(200)
  })

  it('should take only accounts verified before the pre-queue opened', async () => {
    const before = Math.floor(Date.now() / 1000) - 3600
    const saleId = await openSale('acct', 0, { joinPolicy: 'verified' })
    const [a, b, c] = await makeShoppers(3)

    const unverified = await join(saleId, a!.session, await accessToken(accountId()))
    const late = await join(
      saleId,
      b!.session,
      await accessToken(accountId(), { vat: Math.floor(Date.now() / 1000) + 5 }),
    )
    const early = await join(saleId, c!.session, await accessToken(accountId(), { vat: before }))

    expect(unverified.json.error?.code).toBe('verification_required')
    expect(late.status).toBe(403)
    expect(early.status).toBe(200)
    expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`)).json.queued).toBe(1)
  })
})

describe('when an access token is bad', () => {
  it('should refuse forged, expired and malformed tokens with a 401 naming where, changing nothing', async () => {
    const saleId = await openSale('acct', 0)
    const [me] = await makeShoppers(1)
    const cases = [
      [await accessToken(accountId(), { key: OTHER_ACCESS_TOKEN_KEY }), 'access_token_bad_signature', 'authorization'],
      [await accessToken(accountId(), { ageS: 601 }), 'access_token_expired', 'authorization'],
      ['a.b.c', 'access_token_malformed', 'authorization'],
    ] as const
    for (const [token, code, field] of cases) {
      const r = await join(saleId, me!.session, token)
      expect({ status: r.status, code: r.json.error.code, field: r.json.error.field }).toEqual({
        status: 401,
        code,
        field,
      })
    }
    const cookie = await callEdge(`/api/sales/${saleId}/join`, {
      method: 'POST',
      headers: { 'x-floodgate-session': me!.session, cookie: 'fg_access=nope' },
    })
    expect(cookie.json.error).toMatchObject({ code: 'access_token_malformed', field: 'fg_access' })
    expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`)).json.queued).toBe(0)
  })
})

describe('when accounts and carts are called through the edge', () => {
  it("should pass the call to core's /v1 as it is, the client's address hashed into the receipt", async () => {
    const calls = mockCore(() =>
      Response.json(
        { error: { code: 'rate_limited', message: 'slow down' } },
        { status: 429, headers: { 'retry-after': '7' } },
      ),
    )
    const body = { email: 'ada@example.com', password: 'correct horse battery' }
    const res = await callEdge('/api/auth/login?x=1', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'cf-connecting-ip': '203.0.113.9',
        'x-floodgate-session': 'not-forwarded-000000',
      },
      body,
    })

    expect(res.status).toBe(429)
    expect(res.res.headers.get('retry-after')).toBe('7')
    expect(calls).toHaveLength(1)
    expect(new URL(calls[0]!.url).pathname + new URL(calls[0]!.url).search).toBe('/v1/auth/login?x=1')
    expect(JSON.parse(calls[0]!.body)).toEqual(body)
    const client = calls[0]!.headers.get('x-floodgate-client-key')!
    expect(client).toMatch(/^[\w-]{22}$/)
    expect(calls[0]!.headers.get('x-floodgate-session')).toBeNull()
    const receipt = JSON.parse(
      atob(calls[0]!.headers.get('x-floodgate-edge-receipt')!.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')),
    )
    expect(receipt).toMatchObject({ req: 'POST /v1/auth/login', sub: client })

    await callEdge('/api/cart/lines/SKU-1', {
      method: 'PUT',
      headers: { 'cf-connecting-ip': '198.51.100.4', 'x-floodgate-cart': 'cart_x' },
      body: { quantity: 1 },
    })
    expect(new URL(calls[1]!.url).pathname).toBe('/v1/cart/lines/SKU-1')
    expect(calls[1]!.headers.get('x-floodgate-cart')).toBe('cart_x')
    expect(calls[1]!.headers.get('x-floodgate-client-key')).not.toBe(client)
  })
})
