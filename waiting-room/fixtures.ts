/**
 * Test fixtures shared by the workerd tests (waiting room and edge). Not shipped: only *.test.ts import it.
 */
import { env, exports } from 'cloudflare:workers'
import { afterEach, beforeEach, expect, vi } from 'vitest'
import { randomId, shopperOf, signPurchaseToken, type RoomConfig } from '../contracts/index.ts'

/** The operator's token-issuer secret. The edge never holds it; tests only use it to mint realistic tokens. */
export const TEST_TOKEN_SECRET = 'test-token-secret'

/** A sale id no other test uses (storage may outlive a test). */
export function uniqueSaleId(prefix = 'sale'): string {
  return `${prefix}-${randomId(9)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')}`
}

export function roomStub(saleId: string) {
  return env.WAITING_ROOM.get(env.WAITING_ROOM.idFromName(saleId))
}

/** `count` signed purchase tokens for `saleId`, tids in load order (`tid_<sale>_000001`, ...). */
export async function mintTokens(saleId: string, count: number, from = 1): Promise<string[]> {
  const tokens: string[] = []
  for (let i = from; i < from + count; i++) {
    const tid = `tid_${String(i).padStart(6, '0')}_${saleId.slice(-12).replace(/-/g, '_')}`.padEnd(16, 'x')
    tokens.push(await signPurchaseToken({ sale: saleId, tid, iat: 1_700_000_000 }, TEST_TOKEN_SECRET))
  }
  return tokens
}

/** Fresh sessions and the shopper ids the room will see for them. */
export async function makeShoppers(count: number): Promise<{ session: string; shopper: string }[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const session = randomId()
      return { session, shopper: await shopperOf(session) }
    }),
  )
}

/**
 * A controllable clock for the Durable Object and the test (same isolate): fakes only `Date`, an hour ahead of
 * real time so alarms the room schedules never fire on their own during a test.
 */
export function useTestClock(): { now(): number; set(ms: number): void; advance(ms: number): number } {
  vi.useFakeTimers({ toFake: ['Date'] })
  let current = Math.ceil((Date.now() + 3_600_000) / 1000) * 1000
  vi.setSystemTime(current)
  return {
    now: () => current,
    set(ms) {
      current = ms
      vi.setSystemTime(ms)
    },
    advance(ms) {
      current += ms
      vi.setSystemTime(current)
      return current
    },
  }
}

/** A fresh `useTestClock` before each test of the file; mocks and real timers restored after each. */
export function testClockPerTest(): ReturnType<typeof useTestClock> {
  let clock: ReturnType<typeof useTestClock>
  beforeEach(() => {
    clock = useTestClock()
  })
  afterEach(() => {
    vi.restoreAllMocks()
    vi.useRealTimers()
  })
  return { now: () => clock.now(), set: (ms) => clock.set(ms), advance: (ms) => clock.advance(ms) }
}

export function roomConfig(saleId: string, startsAtMs: number, overrides: Partial<RoomConfig> = {}) {
  return {
    saleId,
    startsAt: new Date(startsAtMs).toISOString(),
    admitPerMinute: 600,
    tokenTtlSeconds: 60,
    // Most tests check plain join order; the shuffle has its own tests (shuffle.test.ts).
    prequeueOrder: 'fifo' as const,
    ...overrides,
  }
}

/** Where the tests address the edge worker. */
export const EDGE_URL = 'https://edge.test'
/** The operator's headers on the edge's admin API. */
export const EDGE_ADMIN = { authorization: `Bearer ${env.EDGE_ADMIN_TOKEN}`, 'content-type': 'application/json' }

/** Calls the edge worker, `body` sent as JSON; `json` is the answer parsed (null when empty). */
export async function callEdge(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  const res = await exports.default.fetch(
    new Request(`${EDGE_URL}${path}`, {
      method: init.method ?? 'GET',
      headers: init.headers ?? {},
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }),
  )
  const text = await res.text()
  return { res, status: res.status, json: text ? (JSON.parse(text) as any) : null }
}

export const callEdgeAdmin = (path: string, method = 'GET', body?: unknown) =>
  callEdge(path, { method, headers: EDGE_ADMIN, body })

/** Configures the sale's room through the edge's admin API and loads `tokens` freshly minted tokens (expects 200s). */
export async function openRoom(saleId: string, config: object, tokens: number): Promise<void> {
  expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`, 'PUT', config)).status).toBe(200)
  if (tokens)
    expect(
      (await callEdgeAdmin(`/admin/sales/${saleId}/tokens`, 'POST', { tokens: await mintTokens(saleId, tokens) }))
        .status,
    ).toBe(200)
}

/** A new sale (id from `prefix`) whose room opened 10 s ago, with `tokens` tokens loaded. */
export async function openSale(prefix: string, tokens: number, overrides: Partial<RoomConfig> = {}): Promise<string> {
  const saleId = uniqueSaleId(prefix)
  await openRoom(saleId, roomConfig(saleId, Date.now() - 10_000, overrides), tokens)
  return saleId
}

export type CoreCall = { method: string; url: string; headers: Headers; body: string }

/**
 * Replaces outbound `fetch` to `env.CORE_URL` (from the edge and from the room alike: both run in the test
 * isolate) with `handler`; other URLs go to the real fetch. Returns the recorded calls. Undo with
 * `vi.restoreAllMocks()`.
 */
export function mockCore(handler: (req: Request, call: CoreCall) => Response | Promise<Response>): CoreCall[] {
  const calls: CoreCall[] = []
  const realFetch = globalThis.fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const req = new Request(input, init)
    if (!req.url.startsWith(env.CORE_URL)) return realFetch(input, init)
    const call = { method: req.method, url: req.url, headers: req.headers, body: await req.clone().text() }
    calls.push(call)
    return handler(req, call)
  })
  return calls
}
