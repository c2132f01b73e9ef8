import { afterEach, describe, expect, it, vi } from 'vitest'
import { shopperOf, signTicket, type RoomStatus } from '../contracts/index.ts'
import { callEdge, callEdgeAdmin, makeShoppers, mockCore, openSale, roomStub } from '../waiting-room/fixtures.ts'
import { FRONTIER_TTL_MS } from '../waiting-room/frontier.ts'

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function join(saleId: string, session: string): Promise<RoomStatus> {
  const { status, json } = await callEdge(`/api/sales/${saleId}/join`, {
    method: 'POST',
    headers: { 'x-floodgate-session': session },
  })
  expect(status).toBe(200)
  return json
}

const poll = (saleId: string, session: string, ticket?: string) =>
  callEdge(`/api/sales/${saleId}/status`, {
    headers: { 'x-floodgate-session': session, ...(ticket ? { 'x-floodgate-ticket': ticket } : {}) },
  })

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('when a shopper polls with a queue ticket', () => {
  it('should answer a waiting shopper at the edge and ask the room only once the frontier reaches them', async () => {
    const saleId = await openSale('edge', 1)
    const [first, second] = await makeShoppers(2)
    const a = await join(saleId, first!.session)
    const b = await join(saleId, second!.session)
    expect(a.state).toBe('admitted')
    expect(b).toMatchObject({ state: 'waiting', ticket: expect.stringMatching(/^fgq1\./) })

    await pause(FRONTIER_TTL_MS + 50)
    const waiting = await poll(saleId, second!.session, b.ticket)
    expect(waiting.res.headers.get('x-floodgate-answered-by')).toBe('edge')
    expect(waiting.json).toMatchObject({ state: 'waiting', position: 1, ahead: 0, unitsLeft: 1 })
    const admitted = await poll(saleId, first!.session, a.ticket)
    expect(admitted.res.headers.get('x-floodgate-answered-by')).toBe('room')
    expect(admitted.json).toMatchObject({ state: 'admitted', token: a.token, grant: a.grant })
  })

  it('should give the same place back to the same session (reopened tab) without a new place', async () => {
    const saleId = await openSale('edge', 0)
    const [me] = await makeShoppers(1)
    const first = await join(saleId, me!.session)
    const again = await callEdge(`/api/sales/${saleId}/join`, {
      method: 'POST',
      headers: { 'x-floodgate-session': me!.session, 'x-floodgate-ticket': first.ticket! },
    })
    expect(again.res.headers.get('x-floodgate-answered-by')).toBe('edge')
    expect(again.json).toMatchObject({ state: 'waiting', position: first.position })
    expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`)).json.queued).toBe(1)
  })

  it('should refuse forged, transferred and other-sale tickets and change nothing', async () => {
    const saleId = await openSale('edge', 0)
    const other = await openSale('edge', 0)
    const [me, thief] = await makeShoppers(2)
    const mine = await join(saleId, me!.session)
    const before = (await callEdgeAdmin(`/admin/sales/${saleId}/room`)).json

    const [head, body] = mine.ticket!.split('.')
    const forgedBody = btoa(
      JSON.stringify({ ...JSON.parse(atob(body!.replace(/-/g, '+').replace(/_/g, '/'))), seq: 99 }),
    )
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '')
    const forged = `${head}.${forgedBody}.${mine.ticket!.split('.')[2]}`
    const selfSigned = await signTicket(
      { sale: saleId, shard: 0, seq: 1, pre: false, sub: await shopperOf(me!.session), iat: Date.now() },
      'not-the-edge-secret',
    )
    const cases = [
      [await poll(saleId, me!.session, forged), 403, 'ticket_bad_signature'],
      [await poll(saleId, me!.session, selfSigned), 403, 'ticket_bad_signature'],
      [await poll(saleId, thief!.session, mine.ticket), 403, 'ticket_session_mismatch'],
      [await poll(other, me!.session, mine.ticket), 403, 'ticket_wrong_sale'],
      [await poll(saleId, me!.session, 'fgq1.nope'), 400, 'ticket_malformed'],
    ] as const
    for (const [r, status, code] of cases)
      expect({ status: r.status, code: r.json.error.code }).toEqual({ status, code })
    expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`)).json).toEqual(before)
  })

  it('should tell everyone still queued that the sale is sold out once the last unit is sold', async () => {
    const saleId = await openSale('edge', 1)
    const people = await makeShoppers(4)
    const joined = []
    for (const p of people) joined.push(await join(saleId, p.session))
    const holder = joined[0]!
    const tid = JSON.parse(atob(holder.token!.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).tid
    expect(
      (
        await callEdgeAdmin(`/admin/sales/${saleId}/tokens/outcomes`, 'POST', {
          outcomes: [{ tid, gen: 1, outcome: 'sold' }],
        })
      ).status,
    ).toBe(200)

    await pause(FRONTIER_TTL_MS + 50)
    for (const [i, p] of people.slice(1).entries()) {
      const r = await poll(saleId, p.session, joined[i + 1]!.ticket)
      expect(r.json).toMatchObject({ state: 'sold_out', unitsLeft: 0 })
      expect(r.res.headers.get('x-floodgate-answered-by')).toBe('edge')
    }
  })
})

describe('when a sale is sharded', () => {
  it('should spread joins and tokens over the shards and still admit and report as one room', async () => {
    const saleId = await openSale('edge', 40, { shards: 4, admitPerMinute: 60_000 })
    const people = await makeShoppers(24)
    const joined = []
    for (const p of people) joined.push(await join(saleId, p.session))
    const shards = new Set(
      joined.map((j) => JSON.parse(atob(j.ticket!.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).shard),
    )
    expect(shards.size).toBeGreaterThan(1)
    const stats = (await callEdgeAdmin(`/admin/sales/${saleId}/room`)).json
    expect(stats).toMatchObject({ shards: 4, tokensLoaded: 40, queued: 24 - stats.admitted })
    const report = (await callEdgeAdmin(`/admin/sales/${saleId}/room/report`)).json
    expect(report).toMatchObject({ shards: 4, joined: 24, admitted: stats.admitted })
    expect(new Set(report.prequeue.map((p: any) => p.shard))).toEqual(new Set([0, 1, 2, 3]))
  })
})

describe('when a shopper redeems too often', () => {
  it('should answer 429 with Retry-After past 1 request per second per shopper', async () => {
    const saleId = await openSale('edge', 1)
    const [me] = await makeShoppers(1)
    const status = await join(saleId, me!.session)
    // Core as it is: a replay-only call finds an order only for the key that made one.
    const made = new Set<string>()
    const order = { orderId: `ord_${'a'.repeat(32)}`, saleId, status: 'pending', replayed: false }
    const calls = mockCore((req) => {
      const key = req.headers.get('idempotency-key')!
      if (req.headers.get('x-floodgate-replay-only') === null) made.add(key)
      else if (!made.has(key))
        return Response.json({ error: { code: 'order_not_found', message: 'none' } }, { status: 404 })
      return Response.json({ ...order, replayed: req.headers.get('x-floodgate-replay-only') !== null }, { status: 202 })
    })
    const redeem = (key: string) =>
      callEdge(`/api/sales/${saleId}/redeem`, {
        method: 'POST',
        headers: { 'x-floodgate-session': me!.session, 'idempotency-key': key, 'content-type': 'application/json' },
        body: { token: status.token, grant: status.grant },
      })
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now())
    try {
      expect((await redeem('key-00000001')).status).toBe(202)
      const second = await redeem('key-00000002')
      expect(second.status).toBe(429)
      expect(second.json.error.code).toBe('rate_limited')
      expect(Number(second.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      // A retry of the first Pay within the same second is not a new checkout: it gets its first answer.
      const retry = await redeem('key-00000001')
      expect(retry.status).toBe(202)
      expect(retry.json).toMatchObject({ orderId: order.orderId, replayed: true })
    } finally {
      vi.useRealTimers()
    }
    expect(calls.map((c) => c.headers.get('x-floodgate-replay-only'))).toEqual([null, '1', '1'])
  })

  it('should answer 429 past 10 requests per second from one client address', async () => {
    const saleId = await openSale('edge', 0)
    const people = await makeShoppers(12)
    mockCore(() => Response.json({ error: { code: 'token_used', message: 'x' } }, { status: 409 }))
    const statuses: number[] = []
    // One instant: the bucket must not refill between the requests however slow the machine is.
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now())
    for (const [i, p] of people.entries()) {
      const r = await callEdge(`/api/sales/${saleId}/redeem`, {
        method: 'POST',
        headers: {
          'x-floodgate-session': p.session,
          'idempotency-key': `key-ip-${String(i).padStart(4, '0')}`,
          'content-type': 'application/json',
          'cf-connecting-ip': '203.0.113.7',
        },
        body: { token: 'fgt1.x.y', grant: 'fgg1.x.y' },
      })
      statuses.push(r.status)
    }
    vi.useRealTimers()
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1)
    expect(statuses.slice(0, 10).every((s) => s !== 429)).toBe(true)
  })
})

describe('when a shopper holds a poll (?waitMs=)', () => {
  const held = (saleId: string, session: string, ticket: string, waitMs: number) =>
    callEdge(`/api/sales/${saleId}/status?waitMs=${waitMs}`, {
      headers: { 'x-floodgate-session': session, 'x-floodgate-ticket': ticket },
    })
  const tidOf = (token: string) => JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).tid

  it('should refuse a hold that is not a whole number of milliseconds up to 25 s', async () => {
    const saleId = await openSale('edge', 0)
    const [me] = await makeShoppers(1)
    const mine = await join(saleId, me!.session)
    for (const waitMs of ['soon', '-1', '60000']) {
      const r = await callEdge(`/api/sales/${saleId}/status?waitMs=${waitMs}`, {
        headers: { 'x-floodgate-session': me!.session, 'x-floodgate-ticket': mine.ticket! },
      })
      expect({ status: r.status, code: r.json.error.code, field: r.json.error.field }).toEqual({
        status: 400,
        code: 'invalid_query',
        field: 'waitMs',
      })
    }
  })

  it('should answer a held poll that runs out with the place and a prompt re-poll', async () => {
    const saleId = await openSale('edge', 0)
    const people = await makeShoppers(2)
    await join(saleId, people[0]!.session)
    const second = await join(saleId, people[1]!.session)
    await pause(FRONTIER_TTL_MS + 50)

    const r = await held(saleId, people[1]!.session, second.ticket!, 300)

    expect(r.status).toBe(200)
    expect(r.json).toMatchObject({ state: 'waiting', position: 2, ahead: 1, refreshMs: 100 })
    expect(r.res.headers.get('x-floodgate-answered-by')).toBe('edge')
    expect(Number(r.res.headers.get('x-floodgate-held-ms'))).toBeGreaterThanOrEqual(0)
  })

  it('should end a held poll with sold out as soon as the last unit is sold', async () => {
    const saleId = await openSale('edge', 1)
    const people = await makeShoppers(2)
    const holder = await join(saleId, people[0]!.session)
    const waiting = await join(saleId, people[1]!.session)
    // Paused: the hold lasts up to the paused refresh interval (5 s), well beyond a frontier refresh.
    expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`, 'PATCH', { mode: 'paused' })).status).toBe(200)

    const pending = held(saleId, people[1]!.session, waiting.ticket!, 20_000)
    await pause(100)
    const sold = await callEdgeAdmin(`/admin/sales/${saleId}/tokens/outcomes`, 'POST', {
      outcomes: [{ tid: tidOf(holder.token!), gen: 1, outcome: 'sold' }],
    })
    expect(sold.status).toBe(200)
    const r = await pending

    expect(r.json).toMatchObject({ state: 'sold_out', unitsLeft: 0 })
    expect(r.res.headers.get('x-floodgate-answered-by')).toBe('edge')
  })

  it('should end a held poll with the grant as soon as the shopper is admitted', async () => {
    const saleId = await openSale('edge', 2)
    const people = await makeShoppers(3)
    await join(saleId, people[0]!.session)
    expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`, 'PATCH', { mode: 'paused' })).status).toBe(200)
    const waiting = await join(saleId, people[1]!.session)
    expect(waiting.state).toBe('waiting')

    const pending = held(saleId, people[1]!.session, waiting.ticket!, 20_000)
    await pause(100)
    expect(
      (await callEdgeAdmin(`/admin/sales/${saleId}/room`, 'PATCH', { mode: 'open', admitPerMinute: 6_000 })).status,
    ).toBe(200)
    const r = await pending

    expect(r.json).toMatchObject({ state: 'admitted', token: expect.any(String), grant: expect.any(String) })
    expect(r.res.headers.get('x-floodgate-answered-by')).toBe('room')
  })
})

describe('when the operator holds admission', () => {
  it('should say paused or queue_all instead of an ETA, at the edge and from the room, and drop it on resume', async () => {
    const saleId = await openSale('edge', 1)
    const people = await makeShoppers(2)
    await join(saleId, people[0]!.session)
    const waiting = await join(saleId, people[1]!.session)
    expect(waiting).toMatchObject({ state: 'waiting', etaSeconds: expect.any(Number) })
    expect(waiting.admission).toBeUndefined()

    for (const mode of ['paused', 'queue_all'] as const) {
      expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`, 'PATCH', { mode })).status).toBe(200)
      const edge = await poll(saleId, people[1]!.session, waiting.ticket)
      expect(edge.res.headers.get('x-floodgate-answered-by')).toBe('edge')
      expect(edge.json).toMatchObject({ state: 'waiting', admission: mode, etaSeconds: null, position: 1 })
      // The room's own answer (what it tells the edge once the frontier reaches a shopper) says the same.
      const room = await roomStub(saleId).status(saleId, people[1]!.shopper)
      expect(room).toMatchObject({ ok: true, value: { state: 'waiting', admission: mode, etaSeconds: null } })
    }

    expect((await callEdgeAdmin(`/admin/sales/${saleId}/room`, 'PATCH', { mode: 'open' })).status).toBe(200)
    const resumed = await poll(saleId, people[1]!.session, waiting.ticket)
    expect(resumed.json).toMatchObject({ state: 'waiting', etaSeconds: expect.any(Number) })
    expect(resumed.json.admission).toBeUndefined()
  })
})
