import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ExpireGrantsRequest,
  peekPurchaseToken,
  verifyGrant,
  type RoomStats,
  type RoomStatus,
  type TokenOutcome,
} from '../contracts/index.ts'
import { makeShoppers, mintTokens, mockCore, roomConfig, roomStub, uniqueSaleId, useTestClock } from './fixtures.ts'
import { GRANT_GRACE_MS } from './grant-expiry.ts'
import { NO_UNIT_FREE_REFRESH_MS } from './position.ts'
import type { RoomResult } from './results.ts'

type Room = ReturnType<typeof roomStub>
type Clock = ReturnType<typeof useTestClock>

function value<T>(result: RoomResult<T>): T {
  if (!result.ok) throw new Error(`room answered ${result.error.code}: ${result.error.message}`)
  return result.value
}

async function stats(room: Room, saleId: string): Promise<RoomStats> {
  return value(await room.stats(saleId))
}

async function statusOf(room: Room, saleId: string, shopper: string): Promise<RoomStatus> {
  return value(await room.status(saleId, shopper))
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1))

/** Rows of the room's tables, read inside the object. */
function tokenRows(room: Room) {
  return runInDurableObject(room, (_instance, state) =>
    state.storage.sql
      .exec<{ tid: string; gen: number; state: string; holder: string | null }>(
        'SELECT tid, gen, state, holder FROM tokens ORDER BY n',
      )
      .toArray(),
  )
}

/** Sets up a sale starting at `startsAt` with `tokens` tokens and `shoppers` shoppers who joined in order. */
async function openSale(
  clock: Clock,
  {
    tokens,
    shoppers,
    startsIn = 1_000,
    ...overrides
  }: { tokens: number; shoppers: number; startsIn?: number } & Partial<{
    admitPerMinute: number
    tokenTtlSeconds: number
  }>,
) {
  const saleId = uniqueSaleId()
  const room = roomStub(saleId)
  const startsAt = clock.now() + startsIn
  value(await room.configure({ ...roomConfig(saleId, startsAt), ...overrides }))
  const minted = await mintTokens(saleId, tokens)
  if (tokens > 0) value(await room.loadTokens(saleId, minted))
  const people = await makeShoppers(shoppers)
  for (const { shopper } of people) value(await room.join(saleId, shopper))
  return { saleId, room, startsAt, tokens: minted, people }
}

let clock: Clock

beforeEach(() => {
  clock = useTestClock()
})

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('when shoppers join before the sale starts', () => {
  it('should hold everyone in not_started with their place in line', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, { tokens: 5, shoppers: 3, startsIn: 60_000 })

    clock.set(startsAt - 1)
    await runDurableObjectAlarm(room)
    const seen = await Promise.all(people.map(({ shopper }) => statusOf(room, saleId, shopper)))

    expect(seen.map((s) => [s.state, s.position, s.ahead])).toEqual([
      ['not_started', 1, 0],
      ['not_started', 2, 1],
      ['not_started', 3, 2],
    ])
    expect(seen.every((s) => s.token === null && s.grant === null)).toBe(true)
    expect((await stats(room, saleId)).admitted).toBe(0)
  })

  it('should schedule the first admission at the start time', async () => {
    const { room, startsAt } = await openSale(clock, { tokens: 1, shoppers: 1, startsIn: 30_000 })

    const alarm = await runInDurableObject(room, (_instance, state) => state.storage.getAlarm())

    expect(alarm).toBe(startsAt)
  })
})

describe('when the sale is open', () => {
  it('should admit shoppers in the order they joined', async () => {
    const { saleId, room, people, startsAt, tokens } = await openSale(clock, {
      tokens: 5,
      shoppers: 5,
      admitPerMinute: 60,
    })

    const admittedOrder: string[] = []
    for (let second = 1; second <= 5; second++) {
      clock.set(startsAt + second * 1000)
      await runDurableObjectAlarm(room)
      for (const { shopper } of people) {
        const status = await statusOf(room, saleId, shopper)
        if (status.state === 'admitted' && !admittedOrder.includes(shopper)) admittedOrder.push(shopper)
      }
      expect(admittedOrder).toHaveLength(second)
    }

    expect(admittedOrder).toEqual(people.map((p) => p.shopper))
    // Tokens go out oldest first.
    const handedOut = await Promise.all(
      people.map(async ({ shopper }) => (await statusOf(room, saleId, shopper)).token),
    )
    expect(handedOut).toEqual(tokens)
  })

  it('should admit at admitPerMinute as time passes', async () => {
    const { saleId, room, startsAt } = await openSale(clock, { tokens: 100, shoppers: 60, admitPerMinute: 600 })

    const admittedAt = async (ms: number) => {
      clock.set(startsAt + ms)
      await runDurableObjectAlarm(room)
      return (await stats(room, saleId)).admitted
    }

    expect(await admittedAt(0)).toBe(0)
    expect(await admittedAt(1_000)).toBe(10)
    expect(await admittedAt(2_500)).toBe(25)
    expect(await admittedAt(2_550)).toBe(25)
    expect(await admittedAt(4_000)).toBe(40)
    const after = await stats(room, saleId)
    expect(after).toMatchObject({ queued: 20, granted: 40, available: 60 })
  })

  it('should follow a rate changed while the sale runs', async () => {
    const { saleId, room, startsAt } = await openSale(clock, { tokens: 100, shoppers: 60, admitPerMinute: 600 })

    clock.set(startsAt + 1_000)
    value(await room.configure(roomConfig(saleId, startsAt, { admitPerMinute: 60 })))
    expect((await stats(room, saleId)).admitted).toBe(10)
    clock.set(startsAt + 3_000)
    await runDurableObjectAlarm(room)

    expect((await stats(room, saleId)).admitted).toBe(12)
  })

  it('should not apply a new rate to time that has already passed', async () => {
    const { saleId, room, startsAt } = await openSale(clock, { tokens: 100, shoppers: 80, admitPerMinute: 60 })

    clock.set(startsAt + 500)
    value(await room.configure(roomConfig(saleId, startsAt, { admitPerMinute: 6_000 })))
    clock.set(startsAt + 600)
    await runDurableObjectAlarm(room)

    // 0.5 banked at 60/min + 100 ms at 6000/min = 10.5, not 600 ms at the new rate (60).
    expect((await stats(room, saleId)).admitted).toBe(10)
  })

  it('should not bank more than a burst of admissions while nobody waits', async () => {
    const { saleId, room, startsAt } = await openSale(clock, { tokens: 100, shoppers: 0, admitPerMinute: 60 })

    clock.set(startsAt + 120_000)
    const late = await makeShoppers(30)
    for (const { shopper } of late) await room.join(saleId, shopper)

    // 60/min banks at most 10 s worth: 10 admissions, not 120.
    expect((await stats(room, saleId)).admitted).toBe(10)
  })

  it('should issue a grant that verifies for that shopper and token', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, {
      tokens: 2,
      shoppers: 2,
      tokenTtlSeconds: 120,
    })
    const [first, second] = people

    clock.set(startsAt + 1_000)
    const status = await statusOf(room, saleId, first!.shopper)

    expect(status).toMatchObject({ state: 'admitted', position: null, refreshMs: 0 })
    expect(status.grantExpiresAt).toBe(startsAt + 1_000 + 120_000)
    const token = peekPurchaseToken(status.token!)!
    const mine = await verifyGrant(status.grant, env.GRANT_SECRET, {
      token,
      shopper: first!.shopper,
      nowMs: clock.now(),
    })
    expect(mine).toMatchObject({ ok: true, payload: { sale: saleId, tid: token.tid, gen: 1, sub: first!.shopper } })
    const someoneElse = await verifyGrant(status.grant, env.GRANT_SECRET, {
      token,
      shopper: second!.shopper,
      nowMs: clock.now(),
    })
    expect(someoneElse).toEqual({ ok: false, code: 'grant_session_mismatch' })
    const expired = await verifyGrant(status.grant, env.GRANT_SECRET, {
      token,
      shopper: first!.shopper,
      nowMs: status.grantExpiresAt!,
    })
    expect(expired).toEqual({ ok: false, code: 'grant_expired' })
  })

  it('should give the same place, token and grant to a shopper who asks again', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, { tokens: 1, shoppers: 3, admitPerMinute: 60 })
    const third = people[2]!.shopper

    const again = value(await room.join(saleId, third))
    expect(again).toMatchObject({ state: 'not_started', position: 3 })
    expect((await stats(room, saleId)).queued).toBe(3)

    clock.set(startsAt + 1_000)
    const first = value(await room.join(saleId, people[0]!.shopper))
    clock.advance(5_000)
    const rejoined = value(await room.join(saleId, people[0]!.shopper))
    const polled = await statusOf(room, saleId, people[0]!.shopper)

    expect(first.state).toBe('admitted')
    expect(rejoined).toEqual(first)
    expect(polled).toEqual(first)
    expect((await stats(room, saleId)).admitted).toBe(1)
  })

  it('should keep waiting shoppers waiting while every token is held', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, { tokens: 1, shoppers: 2 })

    clock.set(startsAt + 5_000)
    await runDurableObjectAlarm(room)
    const second = await statusOf(room, saleId, people[1]!.shopper)

    expect(second).toMatchObject({ state: 'waiting', position: 1, ahead: 0, unitsLeft: 1 })
    // nothing can move until the unit comes back: no point polling at the fastest rate
    expect(second.refreshMs).toBeGreaterThanOrEqual(NO_UNIT_FREE_REFRESH_MS)
    expect(second.refreshMs).toBeLessThanOrEqual(10_000)
  })
})

describe('when the last unit is sold', () => {
  it('should tell every shopper not admitted that the sale is sold out', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, { tokens: 2, shoppers: 4 })
    clock.set(startsAt + 1_000)
    await runDurableObjectAlarm(room)
    const holders = await Promise.all(people.slice(0, 2).map(({ shopper }) => statusOf(room, saleId, shopper)))
    const sold = holders.map((s): TokenOutcome => ({ tid: peekPurchaseToken(s.token!)!.tid, gen: 1, outcome: 'sold' }))

    value(await room.applyOutcomes(saleId, sold.slice(0, 1)))
    expect((await statusOf(room, saleId, people[2]!.shopper)).state).toBe('waiting')

    value(await room.applyOutcomes(saleId, sold.slice(1)))
    const [late] = await makeShoppers(1)
    const seen = [
      await statusOf(room, saleId, people[2]!.shopper),
      await statusOf(room, saleId, people[3]!.shopper),
      value(await room.join(saleId, late!.shopper)),
    ]

    for (const status of seen) {
      expect(status).toMatchObject({ state: 'sold_out', unitsLeft: 0, refreshMs: 0, token: null })
    }
    expect((await statusOf(room, saleId, people[0]!.shopper)).state).toBe('admitted')
    expect(await stats(room, saleId)).toMatchObject({ tokensLoaded: 2, sold: 2, available: 0, granted: 0 })
  })
})

describe('when core reports token outcomes', () => {
  it('should hand a returned token to the next shopper in line with gen+1', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, { tokens: 1, shoppers: 3 })
    const [a, b, c] = people.map((p) => p.shopper) as [string, string, string]
    clock.set(startsAt + 1_000)
    const held = await statusOf(room, saleId, a)
    const tid = peekPurchaseToken(held.token!)!.tid

    const result = value(await room.applyOutcomes(saleId, [{ tid, gen: 1, outcome: 'returned' }]))
    clock.advance(1_000)
    await runDurableObjectAlarm(room)

    expect(result).toEqual({ applied: 1 })
    const next = await statusOf(room, saleId, b)
    expect(next.state).toBe('admitted')
    expect(peekPurchaseToken(next.token!)!.tid).toBe(tid)
    const grant = await verifyGrant(next.grant, env.GRANT_SECRET, {
      token: peekPurchaseToken(next.token!)!,
      shopper: b,
      nowMs: clock.now(),
    })
    expect(grant.ok && grant.payload.gen).toBe(2)
    expect((await statusOf(room, saleId, a)).state).toBe('expired')
    expect((await statusOf(room, saleId, c)).state).toBe('waiting')
    expect(await tokenRows(room)).toEqual([{ tid, gen: 2, state: 'granted', holder: b }])
    const holders = await runInDurableObject(
      room,
      (_i, state) =>
        state.storage.sql
          .exec<{ c: number }>(`SELECT COUNT(*) AS c FROM queue WHERE state = 'admitted' AND tid = ?`, tid)
          .one().c,
    )
    expect(holders).toBe(1)
    expect(await stats(room, saleId)).toMatchObject({ recycled: 1, admitted: 2, granted: 1 })
  })

  it('should ignore an outcome for a stale generation', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, { tokens: 1, shoppers: 2 })
    clock.set(startsAt + 1_000)
    const tid = peekPurchaseToken((await statusOf(room, saleId, people[0]!.shopper)).token!)!.tid
    value(await room.applyOutcomes(saleId, [{ tid, gen: 1, outcome: 'returned' }]))
    clock.advance(1_000)
    await runDurableObjectAlarm(room)
    const before = await stats(room, saleId)

    const stale = value(
      await room.applyOutcomes(saleId, [
        { tid, gen: 1, outcome: 'sold' },
        { tid, gen: 1, outcome: 'returned' },
        { tid, gen: 3, outcome: 'sold' },
      ]),
    )

    expect(stale).toEqual({ applied: 0 })
    expect(await stats(room, saleId)).toEqual(before)
    expect(await tokenRows(room)).toEqual([{ tid, gen: 2, state: 'granted', holder: people[1]!.shopper }])
  })

  it('should apply a repeated outcome only once', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, { tokens: 1, shoppers: 1 })
    clock.set(startsAt + 1_000)
    const tid = peekPurchaseToken((await statusOf(room, saleId, people[0]!.shopper)).token!)!.tid

    const first = value(await room.applyOutcomes(saleId, [{ tid, gen: 1, outcome: 'sold' }]))
    const repeat = value(
      await room.applyOutcomes(saleId, [
        { tid, gen: 1, outcome: 'sold' },
        { tid, gen: 1, outcome: 'returned' },
      ]),
    )

    expect([first.applied, repeat.applied]).toEqual([1, 0])
    expect(await stats(room, saleId)).toMatchObject({ sold: 1, available: 0, recycled: 0 })
  })
})

describe('when grants expire', () => {
  async function twoGrantsOutstanding() {
    const sale = await openSale(clock, { tokens: 2, shoppers: 4, tokenTtlSeconds: 30 })
    clock.set(sale.startsAt + 1_000)
    await runDurableObjectAlarm(sale.room)
    const [a, b] = await Promise.all(
      sale.people.slice(0, 2).map(({ shopper }) => statusOf(sale.room, sale.saleId, shopper)),
    )
    const tidA = peekPurchaseToken(a!.token!)!.tid
    return { ...sale, tidA, tidB: peekPurchaseToken(b!.token!)!.tid, exp: a!.grantExpiresAt! }
  }

  it('should recycle voided tokens and keep redeemed ones for core to settle', async () => {
    const { saleId, room, people, tidA, tidB, exp } = await twoGrantsOutstanding()
    const calls = mockCore(async (req) => {
      const body = ExpireGrantsRequest.parse(await req.json())
      return Response.json({
        results: body.grants.map((g) => ({ ...g, state: g.tid === tidA ? 'voided' : 'redeemed' })),
      })
    })

    clock.set(exp + GRANT_GRACE_MS + 1)
    await runDurableObjectAlarm(room)

    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ method: 'POST', url: `${env.CORE_URL}/internal/sales/${saleId}/grants/expire` })
    expect(calls[0]!.headers.get('authorization')).toBe(`Bearer ${env.CORE_INTERNAL_TOKEN}`)
    expect(JSON.parse(calls[0]!.body)).toEqual({
      grants: expect.arrayContaining([
        { tid: tidA, gen: 1 },
        { tid: tidB, gen: 1 },
      ]),
    })
    expect((await statusOf(room, saleId, people[0]!.shopper)).state).toBe('expired')
    expect((await statusOf(room, saleId, people[1]!.shopper)).state).toBe('admitted')
    const third = await statusOf(room, saleId, people[2]!.shopper)
    expect(third.state).toBe('admitted')
    expect(peekPurchaseToken(third.token!)!.tid).toBe(tidA)
    expect((await statusOf(room, saleId, people[3]!.shopper)).state).toBe('waiting')
    expect(await tokenRows(room)).toEqual([
      { tid: tidA, gen: 2, state: 'granted', holder: people[2]!.shopper },
      { tid: tidB, gen: 1, state: 'redeemed', holder: people[1]!.shopper },
    ])
    expect(await stats(room, saleId)).toMatchObject({ recycled: 1, redeemed: 1, granted: 1, admitted: 3 })
  })

  it('should ignore the answer from core for a grant that changed hands meanwhile', async () => {
    const { saleId, room, people, tidA, exp } = await twoGrantsOutstanding()
    // Each side polls a flag: a promise resolved from the other side would carry its I/O context across objects.
    let release = false
    const calls = mockCore(async () => {
      while (!release) await tick()
      return Response.json({ results: [{ tid: tidA, gen: 1, state: 'voided' }] })
    })

    clock.set(exp + GRANT_GRACE_MS + 1)
    const alarm = runDurableObjectAlarm(room)
    while (calls.length === 0) await tick()
    // While the room waits on core, checkout reports tidA returned and the room re-grants it (gen 2).
    value(await room.applyOutcomes(saleId, [{ tid: tidA, gen: 1, outcome: 'returned' }]))
    release = true
    await alarm

    const rows = await tokenRows(room)
    expect(rows[0]).toEqual({ tid: tidA, gen: 2, state: 'granted', holder: people[2]!.shopper })
    expect((await statusOf(room, saleId, people[2]!.shopper)).state).toBe('admitted')
    expect((await statusOf(room, saleId, people[3]!.shopper)).state).toBe('waiting')
    expect((await stats(room, saleId)).recycled).toBe(1)
  })

  it('should send a shopper whose grant lapsed to the back of the line on rejoin', async () => {
    const { saleId, room, people, tidA, exp } = await twoGrantsOutstanding()
    mockCore(async (req) => {
      const body = ExpireGrantsRequest.parse(await req.json())
      const results = body.grants.filter((g) => g.tid === tidA).map((g) => ({ ...g, state: 'voided' }))
      return Response.json({ results })
    })
    clock.set(exp + GRANT_GRACE_MS + 1)
    await runDurableObjectAlarm(room)
    expect((await statusOf(room, saleId, people[0]!.shopper)).state).toBe('expired')

    const rejoined = value(await room.join(saleId, people[0]!.shopper))

    expect(rejoined).toMatchObject({ state: 'waiting', position: 2, ahead: 1, token: null })
    expect((await statusOf(room, saleId, people[3]!.shopper)).position).toBe(1)
  })

  it('should not ask core before the grace period has passed', async () => {
    const { room, exp } = await twoGrantsOutstanding()
    const calls = mockCore(() => Response.json({ results: [] }))

    clock.set(exp + GRANT_GRACE_MS - 1)
    await runDurableObjectAlarm(room)

    expect(calls).toHaveLength(0)
  })

  it('should keep tokens granted while core is unreachable and ask again later', async () => {
    const { saleId, room, people, tidA, tidB, exp } = await twoGrantsOutstanding()
    let up = false
    const calls = mockCore(async (req) => {
      if (!up) throw new TypeError('connect ECONNREFUSED')
      const body = ExpireGrantsRequest.parse(await req.json())
      return Response.json({ results: body.grants.map((g) => ({ ...g, state: 'voided' })) })
    })
    const before = await stats(room, saleId)

    clock.set(exp + GRANT_GRACE_MS + 1)
    await runDurableObjectAlarm(room)

    expect(calls).toHaveLength(1)
    expect(await stats(room, saleId)).toEqual(before)
    expect(await tokenRows(room)).toEqual([
      { tid: tidA, gen: 1, state: 'granted', holder: people[0]!.shopper },
      { tid: tidB, gen: 1, state: 'granted', holder: people[1]!.shopper },
    ])
    expect(await runInDurableObject(room, (_i, state) => state.storage.getAlarm())).not.toBeNull()

    up = true
    clock.advance(1_000)
    await runDurableObjectAlarm(room)
    expect(calls).toHaveLength(2)
    expect(await stats(room, saleId)).toMatchObject({ recycled: 2, granted: 2, admitted: 4 })
  })

  it('should keep tokens granted when core answers with an error', async () => {
    const { saleId, room, exp } = await twoGrantsOutstanding()
    // Even a body that looks like an answer does not count when the status says core failed.
    const calls = mockCore(async (req) => {
      const body = ExpireGrantsRequest.parse(await req.json())
      return Response.json({ results: body.grants.map((g) => ({ ...g, state: 'voided' })) }, { status: 500 })
    })
    const before = await stats(room, saleId)

    clock.set(exp + GRANT_GRACE_MS + 1)
    await runDurableObjectAlarm(room)

    expect(calls).toHaveLength(1)
    expect(await stats(room, saleId)).toEqual(before)
  })
})

describe('when tokens are loaded', () => {
  /** A room configured for a sale starting in a minute (only configure binds a room to a sale). */
  async function configuredRoom() {
    const saleId = uniqueSaleId()
    const room = roomStub(saleId)
    value(await room.configure(roomConfig(saleId, clock.now() + 60_000)))
    return { saleId, room }
  }

  it('should count token ids already present as duplicates', async () => {
    const { saleId, room } = await configuredRoom()
    const tokens = await mintTokens(saleId, 3)

    const first = value(await room.loadTokens(saleId, tokens.slice(0, 2)))
    const second = value(await room.loadTokens(saleId, [...tokens, tokens[2]!]))

    expect(first).toEqual({ saleId, loaded: 2, duplicates: 0, total: 2 })
    expect(second).toEqual({ saleId, loaded: 1, duplicates: 3, total: 3 })
  })

  it('should store nothing from a batch with a bad token and name it', async () => {
    const { saleId, room } = await configuredRoom()
    const good = await mintTokens(saleId, 2)
    const [foreign] = await mintTokens(uniqueSaleId('other'), 1)

    const garbage = await room.loadTokens(saleId, [good[0]!, 'fgt1.not-a-token.x', good[1]!])
    const wrongSale = await room.loadTokens(saleId, [good[0]!, good[1]!, foreign!])

    expect(garbage).toMatchObject({ ok: false, error: { code: 'invalid_body', field: 'tokens.1' } })
    expect(wrongSale).toMatchObject({ ok: false, error: { code: 'invalid_body', field: 'tokens.2' } })
    expect((await stats(room, saleId)).tokensLoaded).toBe(0)
  })
})

describe('when the room has nothing timed to do', () => {
  it('should not keep an alarm running', async () => {
    const { saleId, room, people, startsAt } = await openSale(clock, { tokens: 1, shoppers: 1 })
    clock.set(startsAt + 1_000)
    const tid = peekPurchaseToken((await statusOf(room, saleId, people[0]!.shopper)).token!)!.tid
    value(await room.applyOutcomes(saleId, [{ tid, gen: 1, outcome: 'sold' }]))

    // Whatever alarm is pending runs once and does not come back.
    await runDurableObjectAlarm(room)

    expect(await runInDurableObject(room, (_i, state) => state.storage.getAlarm())).toBeNull()
  })

  it('should not start an alarm for a room without shoppers', async () => {
    const { room } = await openSale(clock, { tokens: 3, shoppers: 0 })

    expect(await runInDurableObject(room, (_i, state) => state.storage.getAlarm())).toBeNull()
  })
})

describe('when a shopper who never joined asks for status', () => {
  it('should answer not_found and not add them to the line', async () => {
    const { saleId, room } = await openSale(clock, { tokens: 1, shoppers: 1 })
    const [stranger] = await makeShoppers(1)

    const result = await room.status(saleId, stranger!.shopper)

    expect(result).toMatchObject({ ok: false, error: { code: 'not_found' } })
    expect((await stats(room, saleId)).queued).toBe(1)
  })
})

describe('when the room is not configured', () => {
  it('should refuse joins with room_not_configured', async () => {
    const saleId = uniqueSaleId()
    const [shopper] = await makeShoppers(1)

    const result = await roomStub(saleId).join(saleId, shopper!.shopper)

    expect(result).toMatchObject({ ok: false, error: { code: 'room_not_configured' } })
  })
})

describe('when an object was never configured', () => {
  /** The object's own tables (workerd's `_cf_` ones aside), and its alarm. */
  function contents(room: Room) {
    return runInDurableObject(room, async (_i, state) => {
      const tables = state.storage.sql
        .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'`)
        .toArray()
        .map((r) => r.name)
      const sql = state.storage.sql
      const count = (table: string) => sql.exec<{ c: number }>(`SELECT COUNT(*) AS c FROM ${table}`).one().c
      const rows = Object.fromEntries(tables.map((t) => [t, t === 'schema_migrations' ? null : count(t)]))
      const room = tables.includes('room') ? sql.exec(`SELECT * FROM room`).toArray() : []
      return { tables, rows, room, alarm: await state.storage.getAlarm() }
    })
  }

  it('should refuse every call but configure with room_not_configured and create nothing', async () => {
    const saleId = uniqueSaleId()
    const room = roomStub(saleId)
    const [shopper] = await makeShoppers(1)
    const tokens = await mintTokens(saleId, 2)
    const before = await contents(room)
    const ref = { shopper: shopper!.shopper, tid: peekPurchaseToken(tokens[0]!)!.tid, gen: 1 }

    const answers = {
      shuffleSeed: await room.shuffleSeed(saleId),
      steer: await room.steer(saleId, { mode: 'paused' }),
      frontier: await room.frontier(saleId),
      report: await room.report(saleId),
      loadTokens: await room.loadTokens(saleId, tokens),
      applyOutcomes: await room.applyOutcomes(saleId, [{ tid: ref.tid, gen: 1, outcome: 'returned' }]),
      stats: await room.stats(saleId),
      join: await room.join(saleId, shopper!.shopper),
      place: await room.place(saleId, shopper!.shopper, 'network-hash'),
      status: await room.status(saleId, shopper!.shopper),
      lend: await room.lend(saleId, 1, [shopper!.shopper]),
      unlend: await room.unlend(saleId, 1, [ref]),
      lentReleased: await room.lentReleased(saleId, [ref]),
    }

    for (const [name, answer] of Object.entries(answers)) {
      expect({ name, answer }).toMatchObject({ name, answer: { ok: false, error: { code: 'room_not_configured' } } })
    }
    expect(await contents(room)).toEqual(before)
    // Not even a schema: a made-up sale id costs no storage.
    expect(before).toEqual({ tables: [], rows: {}, room: [], alarm: null })
  })

  it('should be bound to its sale by configure, and then refuse another sale without writing', async () => {
    const saleId = uniqueSaleId()
    const other = uniqueSaleId('other')
    const room = roomStub(saleId)
    value(await room.configure(roomConfig(saleId, clock.now() + 60_000)))
    const before = await contents(room)

    const answers = [
      await room.configure(roomConfig(other, clock.now() + 60_000)),
      await room.loadTokens(other, await mintTokens(other, 1)),
      await room.join(other, (await makeShoppers(1))[0]!.shopper),
      await room.stats(other),
    ]

    for (const answer of answers) {
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_path', field: 'saleId' } })
    }
    expect(await contents(room)).toEqual(before)
    expect(before.room).toMatchObject([{ sale_id: saleId }])
  })
})
