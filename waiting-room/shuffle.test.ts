import { runDurableObjectAlarm } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { env } from 'cloudflare:workers'
import { publicIdOf, seedCommitment, shuffleKey, type RoomStats } from '../contracts/index.ts'
import { makeShoppers, mintTokens, roomConfig, roomStub, uniqueSaleId, useTestClock } from './fixtures.ts'
import type { RoomResult } from './results.ts'

type Clock = ReturnType<typeof useTestClock>
let clock: Clock

function value<T>(result: RoomResult<T>): T {
  if (!result.ok) throw new Error(`room answered ${result.error.code}: ${result.error.message}`)
  return result.value
}

beforeEach(() => {
  clock = useTestClock()
})
afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

async function shuffledSale({ tokens, admitPerMinute = 6_000 }: { tokens: number; admitPerMinute?: number }) {
  const saleId = uniqueSaleId('shuf')
  const room = roomStub(saleId)
  const startsAt = clock.now() + 60_000
  value(await room.configure({ ...roomConfig(saleId, startsAt, { admitPerMinute }), prequeueOrder: 'shuffle' }))
  value(await room.loadTokens(saleId, await mintTokens(saleId, tokens)))
  return { saleId, room, startsAt }
}

describe('when shoppers join during the pre-queue of a shuffled sale', () => {
  const title =
    'should publish a commitment, hide the order until the start, then admit in the order the revealed seed gives'
  it(title, async () => {
    const { saleId, room, startsAt } = await shuffledSale({ tokens: 40 })
    const early = await makeShoppers(30)
    for (const { shopper } of early) value(await room.join(saleId, shopper))

    const before: RoomStats = value(await room.stats(saleId))
    expect(before.commitment).toMatch(/^[0-9a-f]{64}$/)
    expect(before.seed).toBeNull()
    const waiting = value(await room.status(saleId, early[0]!.shopper))
    expect(waiting).toMatchObject({ state: 'not_started', position: null, ahead: null })

    clock.set(startsAt + 1_000)
    const late = await makeShoppers(5)
    for (const { shopper } of late) value(await room.join(saleId, shopper))
    for (let s = 2; s <= 10; s++) {
      clock.set(startsAt + s * 1_000)
      await runDurableObjectAlarm(room)
    }

    const report = value(await room.report(saleId))
    expect(report.seed).not.toBeNull()
    expect(await seedCommitment(report.seed!)).toBe(before.commitment)
    expect(report.prequeue[0]!.shoppers).toEqual(early.map((p) => p.shopper))
    // The join list is published by public id, which the shopper learns from their own answers.
    const published = report.prequeue[0]!.joins.map((j) => j.publicId)
    const publicIds = async (people: typeof early) =>
      Promise.all(people.map((p) => publicIdOf(env.GRANT_SECRET, saleId, p.shopper)))
    expect(published).toEqual(await publicIds(early))
    expect(waiting.publicId).toBe(published[0])
    // Anyone can recompute the order from the published join list and the revealed seed.
    const keyed = await Promise.all(published.map(async (id) => ({ id, k: await shuffleKey(report.seed!, id) })))
    const expected = keyed.sort((a, b) => a.k - b.k).map((x) => x.id)
    const admitted = report.issuance.map((e) => e.publicId)
    expect(admitted.slice(0, 30)).toEqual(expected)
    // ... and the order is not simply join order.
    expect(expected).not.toEqual(published)
    // Later arrivals: first come, first served, behind the whole pre-queue.
    expect(admitted.slice(30)).toEqual(await publicIds(late))
  })

  it('should draw the same order from the same seed (reproducible) and a different one from another seed', async () => {
    const people = await makeShoppers(50)
    const orderFor = async (seed: string) =>
      (await Promise.all(people.map(async (p) => ({ s: p.shopper, k: await shuffleKey(seed, p.shopper) }))))
        .sort((a, b) => a.k - b.k)
        .map((x) => x.s)
    expect(await orderFor('a'.repeat(64))).toEqual(await orderFor('a'.repeat(64)))
    expect(await orderFor('a'.repeat(64))).not.toEqual(await orderFor('b'.repeat(64)))
  })
})

describe('when the operator steers a running room', () => {
  it('should honour admitPerMinute within 5% over a minute', async () => {
    const saleId = uniqueSaleId('rate')
    const room = roomStub(saleId)
    const startsAt = clock.now() + 1_000
    value(await room.configure(roomConfig(saleId, startsAt, { admitPerMinute: 300 })))
    value(await room.loadTokens(saleId, await mintTokens(saleId, 400)))
    for (const { shopper } of await makeShoppers(400)) value(await room.join(saleId, shopper))

    for (let s = 1; s <= 60; s++) {
      clock.set(startsAt + s * 1_000 + Math.floor(Math.random() * 300))
      await runDurableObjectAlarm(room)
    }
    clock.set(startsAt + 60_000)
    await runDurableObjectAlarm(room)
    const admitted = value(await room.stats(saleId)).admitted
    expect(Math.abs(admitted - 300) / 300).toBeLessThanOrEqual(0.05)
  }, 60_000)

  it('should stop admitting while paused (no budget banked) and resume at the rate', async () => {
    const saleId = uniqueSaleId('pause')
    const room = roomStub(saleId)
    const startsAt = clock.now() + 1_000
    value(await room.configure(roomConfig(saleId, startsAt, { admitPerMinute: 600 })))
    value(await room.loadTokens(saleId, await mintTokens(saleId, 100)))
    for (const { shopper } of await makeShoppers(80)) value(await room.join(saleId, shopper))

    clock.set(startsAt + 1_000)
    await runDurableObjectAlarm(room)
    expect(value(await room.stats(saleId)).admitted).toBe(10)
    expect(value(await room.steer(saleId, { mode: 'paused' }))).toMatchObject({ mode: 'paused', admitted: 10 })
    clock.set(startsAt + 5_000)
    await runDurableObjectAlarm(room)
    expect(value(await room.stats(saleId)).admitted).toBe(10)

    value(await room.steer(saleId, { mode: 'open', admitPerMinute: 1_200 }))
    clock.set(startsAt + 6_000)
    await runDurableObjectAlarm(room)
    // 1 s at 1,200/min after the resume; the 4 paused seconds bank nothing.
    expect(value(await room.stats(saleId)).admitted).toBe(30)
  })

  it('should keep at most maxActive shoppers holding grants', async () => {
    const saleId = uniqueSaleId('maxact')
    const room = roomStub(saleId)
    const startsAt = clock.now() + 1_000
    value(await room.configure(roomConfig(saleId, startsAt, { admitPerMinute: 6_000 })))
    value(await room.loadTokens(saleId, await mintTokens(saleId, 100)))
    for (const { shopper } of await makeShoppers(50)) value(await room.join(saleId, shopper))
    value(await room.steer(saleId, { maxActive: 7 }))

    clock.set(startsAt + 10_000)
    await runDurableObjectAlarm(room)
    expect(value(await room.stats(saleId))).toMatchObject({ admitted: 7, granted: 7, maxActive: 7 })
    value(await room.steer(saleId, { maxActive: null }))
    expect(value(await room.stats(saleId)).admitted).toBeGreaterThan(7)
  })
})
