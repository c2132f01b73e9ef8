/**
 * Abuse probes against the edge in workerd (issue 15): what one client can do to a sale's objects, a shopper's
 * session, and a deploy without its secrets. Each probe asserts the outcome and what it cost (objects created).
 */
import { runInDurableObject } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { Hono } from 'hono'
import { describe, expect, it, vi } from 'vitest'
import { type RoomStatus } from '../contracts/index.ts'
import { EDGE_ADMIN, EDGE_URL, makeShoppers, openSale, roomStub, uniqueSaleId } from '../waiting-room/fixtures.ts'
import { app } from './app.ts'
import { networkHash, networkOf } from './client-network.ts'
import { handleError } from './app.ts'
import { networkLimit } from './middleware/network-limit/index.ts'
import { secretProblems } from './secrets.ts'

async function call(path: string, init: RequestInit = {}) {
  const res = await exports.default.fetch(new Request(`${EDGE_URL}${path}`, init))
  const text = await res.text()
  return { res, status: res.status, json: text.startsWith('{') ? (JSON.parse(text) as any) : null }
}

/** The object's own tables: none means the probe created nothing. */
const tablesOf = (saleId: string) =>
  runInDurableObject(roomStub(saleId), async (_i, state) =>
    state.storage.sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'`)
      .toArray()
      .map((r) => r.name),
  )

describe('when a client makes up sale ids', () => {
  it('should answer 404 to a join and a status poll and create no object storage', async () => {
    const saleId = uniqueSaleId('made-up')
    const [me] = await makeShoppers(1)
    const headers = { 'x-floodgate-session': me!.session }

    const join = await call(`/api/sales/${saleId}/join`, { method: 'POST', headers })
    const status = await call(`/api/sales/${saleId}/status`, { headers })

    expect(join.status).toBe(404)
    expect(join.json.error.code).toBe('room_not_configured')
    expect(status.status).toBe(404)
    expect(status.json.error.code).toBe('ticket_required')
    expect(await tablesOf(saleId)).toEqual([])
  })
})

describe('when a client polls status with made-up sessions and no ticket', () => {
  it('should answer every poll at the edge (join first) and leave the room as it was', async () => {
    const saleId = await openSale('abuse', 1)
    const before = (await call(`/admin/sales/${saleId}/room`, { headers: EDGE_ADMIN })).json
    const sessions = await makeShoppers(50)

    const answers = await Promise.all(
      sessions.map((s) => call(`/api/sales/${saleId}/status`, { headers: { 'x-floodgate-session': s.session } })),
    )

    expect(answers.map((a) => a.status)).toEqual(sessions.map(() => 404))
    expect(answers.every((a) => a.json.error.code === 'ticket_required')).toBe(true)
    expect(answers.every((a) => a.res.headers.get('x-floodgate-answered-by') === null)).toBe(true)
    expect(answers.every((a) => a.res.headers.get('cache-control') === 'no-store')).toBe(true)
    expect((await call(`/admin/sales/${saleId}/room`, { headers: EDGE_ADMIN })).json).toEqual(before)
  })
})

describe('when another site posts a form to join', () => {
  it('should refuse it before reading or minting a session, and keep the shopper place and cookie', async () => {
    const saleId = await openSale('abuse', 0)
    const page = { 'sec-fetch-site': 'same-origin', origin: EDGE_URL }
    const joined = await call(`/api/sales/${saleId}/join`, { method: 'POST', headers: page })
    expect(joined.status).toBe(200)
    const cookies = joined.res.headers.getSetCookie().map((c) => c.split(';')[0]!)
    const placeBefore = (joined.json as RoomStatus).position

    // The browser withholds the SameSite=Lax cookies on a cross-site form POST.
    const forms: Record<string, string>[] = [
      {
        'sec-fetch-site': 'cross-site',
        origin: 'https://evil.example',
        'content-type': 'application/x-www-form-urlencoded',
      },
      { 'sec-fetch-site': 'same-site', origin: 'https://shop.edge.test' },
      { origin: 'https://evil.example' },
      {},
    ]
    const answers = await Promise.all(
      forms.map((headers) => call(`/api/sales/${saleId}/join`, { method: 'POST', headers })),
    )

    expect(answers.map((a) => a.status)).toEqual([403, 403, 403, 403])
    expect(answers.map((a) => a.json.error.code)).toEqual(forms.map(() => 'cross_site_request'))
    expect(answers.every((a) => a.res.headers.get('set-cookie') === null)).toBe(true)
    const again = await call(`/api/sales/${saleId}/join`, {
      method: 'POST',
      headers: { ...page, cookie: cookies.join('; ') },
    })
    expect(again.status).toBe(200)
    expect(again.res.headers.get('set-cookie')).toBeNull()
    expect((again.json as RoomStatus).position).toBe(placeBefore)
    expect((await call(`/admin/sales/${saleId}/room`, { headers: EDGE_ADMIN })).json.queued).toBe(1)
  })

  it('should let an app through with its own header, and a redeem without any signal not through', async () => {
    const saleId = await openSale('abuse', 1)
    const app = await call(`/api/sales/${saleId}/join`, { method: 'POST', headers: { 'x-floodgate-client': 'my-app' } })
    const redeem = await call(`/api/sales/${saleId}/redeem`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example', 'idempotency-key': 'attempt-0001' },
      body: '{}',
    })

    expect(app.status).toBe(200)
    expect(redeem.status).toBe(403)
    expect(redeem.json.error.code).toBe('cross_site_request')
  })
})

describe('when one network joins with fresh sessions', () => {
  it('should cap its places at the default of 8 per network, IPv6 counted by /64', async () => {
    const saleId = await openSale('abuse', 0)
    const sessions = await makeShoppers(12)
    const from = (i: number) => `2001:db8:aa:bb:${(i + 1).toString(16)}::${i}`

    const answers = []
    for (const [i, s] of sessions.entries()) {
      const headers = { 'x-floodgate-session': s.session, 'cf-connecting-ip': from(i) }
      answers.push(await call(`/api/sales/${saleId}/join`, { method: 'POST', headers }))
    }
    const elsewhere = await call(`/api/sales/${saleId}/join`, {
      method: 'POST',
      headers: { 'x-floodgate-session': (await makeShoppers(1))[0]!.session, 'cf-connecting-ip': '2001:db8:aa:bc::1' },
    })

    expect(answers.filter((a) => a.status === 200)).toHaveLength(8)
    expect(answers.slice(8).map((a) => a.json.error.code)).toEqual([
      'place_limit',
      'place_limit',
      'place_limit',
      'place_limit',
    ])
    expect(elsewhere.status).toBe(200)
  })

  it('should ask the Rate Limiting binding for joins and polls, by network, and answer 429 when it says no', async () => {
    const saleId = await openSale('abuse', 0)
    const [me] = await makeShoppers(1)
    const keys: string[] = []
    const spy = vi
      .spyOn(env.SHOPPER_NETWORK_LIMITER, 'limit')
      .mockImplementation(async ({ key }) => (keys.push(key), { success: !key.startsWith('2001:db8:dead:beef') }))
    try {
      const headers = (ip: string) => ({ 'x-floodgate-session': me!.session, 'cf-connecting-ip': ip })
      const flood = await call(`/api/sales/${saleId}/status`, { headers: headers('2001:db8:dead:beef::77') })
      const join = await call(`/api/sales/${saleId}/join`, {
        method: 'POST',
        headers: headers('2001:db8:dead:beef:1::2'),
      })
      const honest = await call(`/api/sales/${saleId}/join`, { method: 'POST', headers: headers('198.51.100.8') })

      expect(flood.status).toBe(429)
      expect(flood.json.error.code).toBe('rate_limited')
      expect(flood.res.headers.get('retry-after')).toBe('10')
      expect(join.status).toBe(429)
      expect(honest.status).toBe(200)
      expect(keys).toEqual(['2001:db8:dead:beef::/64', '2001:db8:dead:beef::/64', '198.51.100.8'])
    } finally {
      spy.mockRestore()
    }
  })
})

describe('when the edge counts a network without the binding', () => {
  function limited(perSecond: number, binding?: RateLimit) {
    let now = 1_000_000
    const app = new Hono()
      .use(
        networkLimit({
          name: 'network',
          key: (c) => networkOf(c.req.header('cf-connecting-ip')!),
          binding: () => binding,
          perSecond,
          now: () => now,
        }),
      )
      .get('/', (c) => c.text('ok'))
    app.onError(handleError)
    const hit = async (ip: string) => (await app.request('/', { headers: { 'cf-connecting-ip': ip } })).status
    return { hit, advance: (ms: number) => (now += ms) }
  }

  it('should allow perSecond requests a second per network, IPv6 by /64, by an injected clock', async () => {
    const { hit, advance } = limited(5)

    const burst = [] as number[]
    for (let i = 0; i < 6; i++) burst.push(await hit(`2001:db8:1:2::${i}`))
    const neighbour = await hit('2001:db8:1:3::1')
    advance(1_000)
    const later = await hit('2001:0db8:0001:0002:ffff::9')

    expect(burst).toEqual([200, 200, 200, 200, 200, 429])
    expect(neighbour).toBe(200)
    expect(later).toBe(200)
  })

  it('should ask the binding when there is one, keyed by network', async () => {
    const keys: string[] = []
    const binding = { limit: async ({ key }: { key: string }) => (keys.push(key), { success: keys.length < 3 }) }
    const { hit } = limited(1_000, binding)

    expect([await hit('203.0.113.9'), await hit('203.0.113.9'), await hit('2001:db8::1')]).toEqual([200, 200, 429])
    expect(keys).toEqual(['203.0.113.9', '203.0.113.9', '2001:db8:0:0::/64'])
  })
})

describe('when the client network is named', () => {
  it('should group IPv6 by its /64 however it is written, and keep IPv4 whole', () => {
    expect(networkOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64')
    expect(networkOf('2001:0DB8:0001:0002::')).toBe('2001:db8:1:2::/64')
    expect(networkOf('::1')).toBe('0:0:0:0::/64')
    expect(networkOf('2001:db8::')).toBe('2001:db8:0:0::/64')
    expect(networkOf('203.0.113.9')).toBe('203.0.113.9')
  })

  it('should hash it with a key, so the stored hash does not give the address back', async () => {
    const a = await networkHash('secret-one-0123456789abcdef0123456789', '203.0.113.9')
    const b = await networkHash('secret-two-0123456789abcdef0123456789', '203.0.113.9')

    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(a).not.toBe(b)
  })
})

describe('when the edge is deployed without real secrets', () => {
  const strong = {
    GRANT_SECRET: 'g'.repeat(40),
    EDGE_ADMIN_TOKEN: 'a'.repeat(40),
    CORE_INTERNAL_TOKEN: 'c'.repeat(40),
    ACCESS_TOKEN_PUBLIC_KEY: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'own-key-x', y: 'own-key-y' }),
  }

  it('should refuse to serve anything, health included, naming each secret', async () => {
    const deployed = { ...env, FLOODGATE_DEV: undefined } as unknown as Cloudflare.Env
    const short = { ...env, ...strong, FLOODGATE_DEV: undefined, GRANT_SECRET: 'short' } as unknown as Cloudflare.Env

    const health = await app.fetch(new Request(`${EDGE_URL}/healthz`), deployed)
    const body = (await health.json()) as { error: { code: string; message: string } }
    const withShort = await app.fetch(new Request(`${EDGE_URL}/healthz`), short)

    expect(health.status).toBe(503)
    expect(body.error.code).toBe('edge_misconfigured')
    expect(body.error.message).toContain('GRANT_SECRET is the published dev value')
    expect(body.error.message).toContain('EDGE_ADMIN_TOKEN is the published dev value')
    expect(body.error.message).toContain('CORE_INTERNAL_TOKEN is the published dev value')
    expect(withShort.status).toBe(503)
    expect(((await withShort.json()) as { error: { message: string } }).error.message).toContain(
      'GRANT_SECRET is shorter than 32 characters',
    )
  })

  it('should serve with real secrets, and with the dev ones only when FLOODGATE_DEV=true', async () => {
    const real = { ...env, ...strong, FLOODGATE_DEV: undefined } as unknown as Cloudflare.Env

    expect((await app.fetch(new Request(`${EDGE_URL}/healthz`), real)).status).toBe(200)
    expect(secretProblems({ ...env })).toEqual([])
    expect(secretProblems({ ...env, FLOODGATE_DEV: 'false' })).toEqual([
      'GRANT_SECRET is the published dev value',
      'EDGE_ADMIN_TOKEN is the published dev value',
      'CORE_INTERNAL_TOKEN is the published dev value',
      'ACCESS_TOKEN_PUBLIC_KEY is the published dev key',
    ])
    expect(secretProblems({ FLOODGATE_DEV: 'true' })).toEqual([
      'GRANT_SECRET is not set',
      'EDGE_ADMIN_TOKEN is not set',
      'CORE_INTERNAL_TOKEN is not set',
      'ACCESS_TOKEN_PUBLIC_KEY is not set',
    ])
  })
})
