import { runDurableObjectAlarm } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { env } from 'cloudflare:workers'
import { publicIdOf, shuffleKey, type QueueTicketPayload, type RoomStatus } from '../contracts/index.ts'
import { makeShoppers, mintTokens, roomConfig, roomStub, testClockPerTest, uniqueSaleId } from './fixtures.ts'
import { answerPoll, fifoOrd } from './frontier.ts'
import { MIN_REFRESH_MS, NO_UNIT_FREE_REFRESH_MS, PAUSED_REFRESH_MS } from './position.ts'
import type { RoomResult } from './results.ts'
import type { JoinResult } from './waiting-room.ts'

const clock = testClockPerTest()

function value<T>(result: RoomResult<T>): T {
  if (!result.ok) throw new Error(`room answered ${result.error.code}: ${result.error.message}`)
  return result.value
}

type Room = ReturnType<typeof roomStub>
type Joined = { shopper: string; ticket: QueueTicketPayload }

async function joinAll(room: Room, saleId: string, count: number): Promise<Joined[]> {
  const out: Joined[] = []
  for (const { shopper } of await makeShoppers(count)) {
    const placed: JoinResult = value(await room.place(saleId, shopper))
    const ticket = { typ: 'qt' as const, sale: saleId, shard: placed.shard, seq: placed.seq, pre: placed.pre }
    out.push({ shopper, ticket: { ...ticket, sub: shopper, iat: placed.joinedAt } })
  }
  return out
}

const shown = (s: RoomStatus) => ({
  state: s.state,
  position: s.position,
  ahead: s.ahead,
  unitsLeft: s.unitsLeft,
  refreshMs: s.refreshMs,
  etaSeconds: s.etaSeconds ?? null,
  admission: s.admission ?? null,
  publicId: s.publicId ?? null,
})

/** What the edge answers from the room's own snapshot at this instant, and what the room answers itself. */
async function bothAnswers(room: Room, saleId: string, who: Joined) {
  const frontier = value(await room.frontier(saleId))
  // As the edge does: the shopper's public id orders a shuffled place and goes into the answer.
  const publicId = await publicIdOf(env.GRANT_SECRET, saleId, who.shopper)
  let ord = fifoOrd(who.ticket, frontier)
  if (ord === null && frontier.seed !== null) ord = await shuffleKey(frontier.seed, publicId)
  const edge = answerPoll(who.ticket, ord, [frontier], clock.now(), publicId)
  const fromRoom = value(await room.status(saleId, who.shopper))
  if (edge.kind !== 'status') throw new Error(`the edge would ask the room (${fromRoom.state})`)
  return { edge: shown(edge.status), room: shown(fromRoom) }
}

async function sale(overrides: Parameters<typeof roomConfig>[2], startsIn: number, tokens: number) {
  const saleId = uniqueSaleId('pos')
  const room = roomStub(saleId)
  const startsAt = clock.now() + startsIn
  value(await room.configure(roomConfig(saleId, startsAt, overrides)))
  if (tokens > 0) value(await room.loadTokens(saleId, await mintTokens(saleId, tokens)))
  return { saleId, room, startsAt }
}

describe('when the edge and the room answer the same shopper in the same state', () => {
  it('should give the same place, ETA and refresh before the start, in join order', async () => {
    const { saleId, room } = await sale({ admitPerMinute: 120 }, 30_000, 5)
    const people = await joinAll(room, saleId, 4)

    for (const who of people) {
      const { edge, room: fromRoom } = await bothAnswers(room, saleId, who)
      expect(edge).toEqual(fromRoom)
      expect(edge).toMatchObject({ state: 'not_started', ahead: who.ticket.seq - 1 })
    }
  })

  it('should both keep a shuffled pre-queue place secret until the draw', async () => {
    const { saleId, room } = await sale({ admitPerMinute: 120, prequeueOrder: 'shuffle' }, 30_000, 5)
    const [who] = await joinAll(room, saleId, 3)

    const { edge, room: fromRoom } = await bothAnswers(room, saleId, who!)

    expect(edge).toEqual(fromRoom)
    expect(edge).toMatchObject({ state: 'not_started', position: null, etaSeconds: 30 })
  })

  it('should give the same answer while units are free, while none is, and while admission is held', async () => {
    const { saleId, room, startsAt } = await sale({ admitPerMinute: 60 }, 1_000, 3)
    const people = await joinAll(room, saleId, 8)
    clock.set(startsAt + 2_000)
    await runDurableObjectAlarm(room)

    // 2 admitted at 60/min, 1 unit free, 6 waiting.
    const free = await bothAnswers(room, saleId, people[5]!)
    expect(free.edge).toEqual(free.room)
    expect(free.edge).toMatchObject({ state: 'waiting', ahead: 3, refreshMs: 1_500, etaSeconds: 3 })

    clock.set(startsAt + 3_000)
    await runDurableObjectAlarm(room)
    // 3 admitted: every unit is held.
    for (const who of people.slice(3)) {
      const none = await bothAnswers(room, saleId, who)
      expect(none.edge).toEqual(none.room)
      expect(none.edge.refreshMs).toBeGreaterThanOrEqual(NO_UNIT_FREE_REFRESH_MS)
    }

    for (const mode of ['paused', 'queue_all'] as const) {
      value(await room.steer(saleId, { mode }))
      const held = await bothAnswers(room, saleId, people[7]!)
      expect(held.edge).toEqual(held.room)
      expect(held.edge).toMatchObject({ admission: mode, etaSeconds: null, refreshMs: PAUSED_REFRESH_MS })
    }
  })

  it('should never suggest polling faster than MIN_REFRESH_MS while waiting', async () => {
    const { saleId, room, startsAt } = await sale({ admitPerMinute: 600 }, 1_000, 50)
    const people = await joinAll(room, saleId, 30)
    clock.set(startsAt + 1_000)
    await runDurableObjectAlarm(room)

    const { edge, room: fromRoom } = await bothAnswers(room, saleId, people[29]!)

    expect(edge).toEqual(fromRoom)
    expect(edge).toMatchObject({ state: 'waiting', refreshMs: MIN_REFRESH_MS })
  })
})

describe('when a shuffled pre-queue is drawn', () => {
  it('should rank places by the shuffle key of the public id, the room exactly and the edge by estimate', async () => {
    const { saleId, room, startsAt } = await sale({ admitPerMinute: 6, prequeueOrder: 'shuffle' }, 5_000, 2)
    const people = await joinAll(room, saleId, 12)
    clock.set(startsAt + 100)
    const seed = value(await room.frontier(saleId)).seed!

    const answers = await Promise.all(people.map((who) => bothAnswers(room, saleId, who)))
    const keys = await Promise.all(
      people.map(async (p) => shuffleKey(seed, await publicIdOf(env.GRANT_SECRET, saleId, p.shopper))),
    )

    const byKey = people.map((_, i) => i).sort((a, b) => keys[a]! - keys[b]!)
    // The room counts exactly: its positions are the draw, 1..12 in key order.
    expect(byKey.map((i) => answers[i]!.room.position)).toEqual(people.map((_, i) => i + 1))
    // The edge estimates from the key's fraction of the line: never out of key order.
    const edgePositions = byKey.map((i) => answers[i]!.edge.position!)
    expect(edgePositions).toEqual([...edgePositions].sort((a, b) => a - b))
    for (const { edge, room: fromRoom } of answers) {
      const { position: _p, ahead: _a, etaSeconds: _e, refreshMs: _r, ...rest } = edge
      expect(fromRoom).toMatchObject(rest)
    }
  })
})
