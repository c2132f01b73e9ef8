/**
 * The abuse probes of issue 15 against the real edge (workerd via Miniflare, per-network limits on as deployed)
 * and the real core: each probe asserts its answer and that the sale is as it was (Redis, Postgres, the room).
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomId, type ErrorBody, type RoomStatus } from '../../contracts/index.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'
import { createSale, roomStats, type IssuerConfig } from '../../token-issuer/issuer.ts'
import { snapshotState } from '../support/state.ts'

let stack: LocalStack
let cfg: IssuerConfig
const SALE = 'e2e-abuse-probes'

beforeAll(async () => {
  stack = await startLocalStack({ edge: { shopperPerNetworkPerSecond: '20' } })
  cfg = stack.issuerConfig()
  await createSale(cfg, {
    saleId: SALE,
    sku: 'ABUSE-E2E',
    name: 'Abuse probes',
    priceCents: 999,
    stock: 2,
    startsAt: new Date(Date.now() + 3_600_000).toISOString(),
    admitPerMinute: 60,
  })
}, 60_000)
afterAll(async () => {
  await stack?.stop()
})

const state = () => snapshotState(stack.core.redis, stack.core.db, stack.config.REDIS_PREFIX)
const edge = (path: string, init: RequestInit = {}) => fetch(`${stack.edgeUrl}${path}`, init)

describe('when a client probes the running stack', () => {
  it('should refuse ticketless polls, made-up sales and cross-site joins at the edge, changing nothing', async () => {
    const before = await state()
    const room = await roomStats(cfg, SALE)
    const headers = { 'x-floodgate-session': randomId(), 'cf-connecting-ip': '198.51.100.20' }

    const poll = await edge(`/api/sales/${SALE}/status`, { headers })
    const madeUp = await edge(`/api/sales/no-such-sale-${Date.now().toString(36)}/join`, { method: 'POST', headers })
    const crossSite = await edge(`/api/sales/${SALE}/join`, {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example', 'cf-connecting-ip': '198.51.100.21' },
    })

    expect([poll.status, madeUp.status, crossSite.status]).toEqual([404, 404, 403])
    expect(((await poll.json()) as ErrorBody).error.code).toBe('ticket_required')
    expect(crossSite.headers.get('set-cookie')).toBeNull()
    expect(await state()).toEqual(before)
    expect(await roomStats(cfg, SALE)).toEqual(room)
  })

  it('should hold one network to its places and its rate, and serve another network meanwhile', async () => {
    const from = (i: number) => ({
      'x-floodgate-session': randomId(),
      'cf-connecting-ip': `2001:db8:e2e:1::${i.toString(16)}`,
    })
    const joins: number[] = []
    for (let i = 0; i < 12; i++)
      joins.push((await edge(`/api/sales/${SALE}/join`, { method: 'POST', headers: from(i) })).status)
    // 200 polls at once: the bucket holds 20 and refills 20/s, so most are refused unless they took 9 s.
    const polls = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        edge(`/api/sales/${SALE}/status`, { headers: from(100 + i) }).then((r) => r.status),
      ),
    )
    const honest = await edge(`/api/sales/${SALE}/join`, {
      method: 'POST',
      headers: { 'x-floodgate-session': randomId(), 'cf-connecting-ip': '203.0.113.50' },
    })

    expect(joins.slice(0, 8)).toEqual([200, 200, 200, 200, 200, 200, 200, 200])
    expect(joins.slice(8).every((s) => s === 429)).toBe(true)
    expect(polls.filter((s) => s === 429).length).toBeGreaterThan(100)
    expect(honest.status).toBe(200)
    expect(((await honest.json()) as RoomStatus).state).toBe('not_started')
  })

  it("should refuse a call straight to core's shopper API, body unread, and change nothing", async () => {
    const before = await state()
    const { hostname, port } = new URL(stack.coreUrl)
    // 50 MB announced, a few KB sent: core must answer without waiting for (or buffering) the body.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: hostname,
        port,
        path: '/v1/redeem',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(50 * 1024 * 1024),
          'x-floodgate-session': randomId(),
        },
      })
      req.on('response', (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
        req.destroy()
      })
      req.on('error', reject)
      req.write(Buffer.alloc(4096, 0x7b))
    })
    const sale = await fetch(`${stack.coreUrl}/v1/sales/${SALE}`)

    expect(status).toBe(401)
    expect(sale.status).toBe(401)
    expect(((await sale.json()) as ErrorBody).error.field).toBe('x-floodgate-edge-receipt')
    // Through the edge, the same data is there.
    expect((await edge(`/api/sales/${SALE}`)).status).toBe(200)
    expect(await state()).toEqual(before)
  })
})
