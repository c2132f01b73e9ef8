/**
 * Issue 9: how many Durable Object calls each shopper request costs, counted on the real edge and room in
 * workerd, against the design (README "The waiting room at scale"): a join is one call to one shard, a poll while
 * waiting is answered at the edge from the frontier snapshot (one `frontier` call per shard and FRONTIER_TTL_MS per
 * edge instance, whoever asks), an admitted shopper's poll is one `status` call, and a redeem costs the room nothing.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { RoomStatus } from '../contracts/index.ts'
import { makeShoppers, mintTokens, mockCore, roomConfig, uniqueSaleId } from '../waiting-room/fixtures.ts'
import { FRONTIER_TTL_MS } from '../waiting-room/frontier.ts'
import { app } from './app.ts'

const BASE = 'https://edge.test'
const ADMIN = { authorization: `Bearer ${env.EDGE_ADMIN_TOKEN}`, 'content-type': 'application/json' }

/** The edge's env with its WaitingRoom namespace wrapped: every RPC call on a stub is counted by method name. */
function countingEnv() {
  const calls = new Map<string, number>()
  const namespace = env.WAITING_ROOM
  const counted = new Proxy(namespace, {
    get(target, property) {
      if (property !== 'get') {
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      }
      return (id: DurableObjectId) =>
        new Proxy(target.get(id), {
          get(stub, method) {
            const value = Reflect.get(stub, method, stub)
            if (typeof method !== 'string' || typeof value !== 'function') return value
            return (...args: unknown[]) => {
              calls.set(method, (calls.get(method) ?? 0) + 1)
              return (stub as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args)
            }
          },
        })
    },
  })
  return { env: { ...env, WAITING_ROOM: counted } as Cloudflare.Env, calls }
}

async function send(
  edgeEnv: Cloudflare.Env,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  const ctx = createExecutionContext()
  const res = await app.fetch(
    new Request(`${BASE}${path}`, {
      method: init.method ?? 'GET',
      headers: init.headers ?? {},
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }),
    edgeEnv,
    ctx,
  )
  const text = await res.text()
  await waitOnExecutionContext(ctx)
  return { res, json: text ? (JSON.parse(text) as any) : null }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('when shoppers join, poll and redeem', () => {
  it('should cost one room call per join, none per waiting poll or redeem, one per admitted poll', async () => {
    const saleId = uniqueSaleId('calls')
    const config = roomConfig(saleId, Date.now() - 10_000)
    expect(
      (await send(env, `/admin/sales/${saleId}/room`, { method: 'PUT', headers: ADMIN, body: config })).res.status,
    ).toBe(200)
    const tokens = { tokens: await mintTokens(saleId, 1) }
    expect(
      (await send(env, `/admin/sales/${saleId}/tokens`, { method: 'POST', headers: ADMIN, body: tokens })).res.status,
    ).toBe(200)

    const { env: edgeEnv, calls } = countingEnv()
    // Core: the admitted shopper's poll asks whether its grant has an order yet (no); the redeem makes one.
    mockCore((req) =>
      req.method === 'POST'
        ? Response.json(
            { orderId: `ord_${'a'.repeat(32)}`, saleId, status: 'pending', replayed: false },
            { status: 202 },
          )
        : Response.json({ error: { code: 'order_not_found', message: 'no such order' } }, { status: 404 }),
    )
    const started = Date.now()
    const shoppers = await makeShoppers(20)
    const joined: RoomStatus[] = []
    for (const s of shoppers) {
      const { res, json } = await send(edgeEnv, `/api/sales/${saleId}/join`, {
        method: 'POST',
        headers: { 'x-floodgate-session': s.session },
      })
      expect(res.status).toBe(200)
      joined.push(json)
    }
    expect(joined[0]!.state).toBe('admitted')
    expect(joined.slice(1).every((j) => j.state === 'waiting')).toBe(true)
    expect(calls.get('place')).toBe(20)

    const poll = (i: number) =>
      send(edgeEnv, `/api/sales/${saleId}/status`, {
        headers: { 'x-floodgate-session': shoppers[i]!.session, 'x-floodgate-ticket': joined[i]!.ticket! },
      })
    for (let round = 0; round < 5; round++) {
      for (let i = 1; i < shoppers.length; i++) {
        const { res, json } = await poll(i)
        expect(res.headers.get('x-floodgate-answered-by')).toBe('edge')
        expect(json.state).toBe('waiting')
      }
    }
    expect(calls.get('status') ?? 0).toBe(0)

    const admitted = await poll(0)
    expect(admitted.res.headers.get('x-floodgate-answered-by')).toBe('room')
    expect(calls.get('status')).toBe(1)

    const before = new Map(calls)
    const redeemed = await send(edgeEnv, `/api/sales/${saleId}/redeem`, {
      method: 'POST',
      headers: {
        'x-floodgate-session': shoppers[0]!.session,
        'idempotency-key': 'room-calls-redeem-0001',
        'content-type': 'application/json',
      },
      body: { token: admitted.json.token, grant: admitted.json.grant },
    })
    expect(redeemed.res.status).toBe(202)
    for (const [method, count] of calls) {
      if (method !== 'frontier') expect({ method, count }).toEqual({ method, count: before.get(method) })
    }

    const frontier = () => calls.get('frontier') ?? 0
    // 20 joins, 96 polls and a redeem: the snapshot is refreshed at most once per FRONTIER_TTL_MS (plus the first).
    const allowed = 1 + Math.ceil((Date.now() - started) / FRONTIER_TTL_MS)
    expect(frontier()).toBeGreaterThanOrEqual(1)
    expect(frontier()).toBeLessThanOrEqual(allowed)
    const total = [...calls.values()].reduce((a, b) => a + b, 0)
    expect(total).toBe(20 + 1 + frontier())
  })
})
