import { fileURLToPath } from 'node:url'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { dropRedisPrefix, testRedis, uniqueName } from '../../test/support/services.ts'
import { ScriptLoaderError } from '../errors/script-loader-error.ts'
import { saleKeys } from './keys.ts'
import { loadScripts } from './script-loader.ts'
import { Reply, ScriptError, Scripts, type RedeemInput } from './scripts.ts'

let redis: Redis
let prefix: string
let scripts: Scripts
let saleId: string
const NOW = 1_800_000_000_000

function redeemInput(n: number, over: Partial<RedeemInput> = {}): RedeemInput {
  return {
    tid: `tok_${String(n).padStart(16, '0')}`,
    gen: 1,
    shopper: `shopper_${String(n).padStart(14, '0')}`,
    idempotencyKey: `key-${n}-aaaaaaaa`,
    orderId: `ord_${n.toString(16).padStart(32, '0')}`,
    nowMs: NOW,
    grantExpiresAtMs: NOW + 60_000,
    ...over,
  }
}

/** The token of redeemInput(n) at generation 2, handed to the next shopper in line; `tag` (a hex digit) names the order. */
function nextInLine(n: number, tag: string): RedeemInput {
  return redeemInput(n, {
    gen: 2,
    shopper: 'next_in_line_000000000',
    idempotencyKey: `next-key-${tag}`,
    orderId: `ord_${tag.repeat(32)}`,
  })
}

beforeAll(() => {
  redis = testRedis()
})
afterAll(async () => {
  await dropRedisPrefix(redis, prefix)
  redis.disconnect()
})
beforeEach(async () => {
  prefix = uniqueName('fgtest')
  scripts = new Scripts(redis, prefix)
  saleId = 'drop-1'
})

async function seed(stock: number, perShopperLimit = 1, holdTtlSeconds = 60) {
  await scripts.seedSale(saleId, { stock, perShopperLimit, holdTtlSeconds })
}

describe('seedSale', () => {
  it('should create the counters once and leave them alone when run again', async () => {
    expect(await scripts.seedSale(saleId, { stock: 10, perShopperLimit: 1, holdTtlSeconds: 60 })).toBe(true)
    await scripts.redeemToken(saleId, redeemInput(1))
    expect(await scripts.seedSale(saleId, { stock: 99, perShopperLimit: 1, holdTtlSeconds: 60 })).toBe(false)
    expect(await scripts.counters(saleId)).toEqual({ stock: 10, available: 9, held: 1, sold: 0 })
  })

  it('should keep every key of a sale in one cluster slot', () => {
    const keys = Object.values(scripts.keys(saleId))
    expect(new Set(keys.map((k) => /\{([^}]+)\}/.exec(k)?.[1]))).toEqual(new Set([saleId]))
  })
})

describe('redeemToken', () => {
  describe('when 1,000 shoppers race for 100 units', () => {
    it('should hold exactly 100 and refuse 900 as sold out', async () => {
      await seed(100)
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => scripts.redeemToken(saleId, redeemInput(i))),
      )
      const held = results.filter((r) => r.kind === 'held').length
      const soldOut = results.filter((r) => r.kind === 'refused' && r.error === ScriptError.SoldOut).length
      expect({ held, soldOut }).toEqual({ held: 100, soldOut: 900 })
      expect(await scripts.counters(saleId)).toEqual({ stock: 100, available: 0, held: 100, sold: 0 })
    })
  })

  describe('when the same token comes back', () => {
    it('should return the same order for the same key or the same token, and never a second hold', async () => {
      await seed(5)
      const first = await scripts.redeemToken(saleId, redeemInput(1))
      const sameKey = await scripts.redeemToken(saleId, redeemInput(1))
      const sameTokenNewKey = await scripts.redeemToken(saleId, redeemInput(1, { idempotencyKey: 'another-key-123' }))
      expect(first).toEqual({ kind: 'held', orderId: redeemInput(1).orderId })
      expect(sameKey).toEqual({ kind: 'replayed', orderId: redeemInput(1).orderId })
      expect(sameTokenNewKey).toEqual({ kind: 'replayed', orderId: redeemInput(1).orderId })
      expect((await scripts.counters(saleId)).available).toBe(4)
    })

    it('should refuse the token to another shopper', async () => {
      await seed(5)
      await scripts.redeemToken(saleId, redeemInput(1))
      const thief = await scripts.redeemToken(
        saleId,
        redeemInput(1, { shopper: 'someone_else_000000000', idempotencyKey: 'thief-key-123' }),
      )
      expect(thief).toEqual({ kind: 'refused', error: ScriptError.TokenUsed })
      expect((await scripts.counters(saleId)).available).toBe(4)
    })

    it('should refuse one idempotency key reused for a different token', async () => {
      await seed(5)
      await scripts.redeemToken(saleId, redeemInput(1))
      const other = await scripts.redeemToken(saleId, redeemInput(2, { idempotencyKey: redeemInput(1).idempotencyKey }))
      expect(other).toEqual({ kind: 'refused', error: ScriptError.IdempotencyKeyConflict })
      expect((await scripts.counters(saleId)).available).toBe(4)
    })
  })

  describe('when a shopper has reached the per-shopper limit', () => {
    it('should refuse the next unit and change nothing', async () => {
      await seed(10, 2)
      const shopper = 'greedy_000000000000000'
      const results = []
      for (let i = 0; i < 3; i++) results.push(await scripts.redeemToken(saleId, redeemInput(i, { shopper })))
      expect(results.map((r) => r.kind)).toEqual(['held', 'held', 'refused'])
      expect(results[2]).toEqual({ kind: 'refused', error: ScriptError.LimitReached })
      expect(await scripts.counters(saleId)).toMatchObject({ available: 8, held: 2 })
    })

    it('should hold the limit when the same shopper fires 50 tokens at once', async () => {
      await seed(100, 3)
      const shopper = 'burst_0000000000000000'
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => scripts.redeemToken(saleId, redeemInput(i, { shopper }))),
      )
      expect(results.filter((r) => r.kind === 'held')).toHaveLength(3)
      expect((await scripts.counters(saleId)).available).toBe(97)
    })
  })

  it('should refuse a grant that has expired by the time the script runs', async () => {
    await seed(5)
    expect(await scripts.redeemToken(saleId, redeemInput(1, { grantExpiresAtMs: NOW }))).toEqual({
      kind: 'refused',
      error: ScriptError.GrantExpired,
    })
    expect((await scripts.counters(saleId)).available).toBe(5)
  })

  describe('when a cap on concurrent checkouts is set', () => {
    it('should refuse holds beyond the cap until one settles, without touching stock', async () => {
      await seed(10)
      const results = []
      for (let i = 0; i < 5; i++) results.push(await scripts.redeemToken(saleId, redeemInput(i, { maxCheckouts: 2 })))
      expect(results.map((r) => (r.kind === 'refused' ? r.error : r.kind))).toEqual([
        'held',
        'held',
        ScriptError.CheckoutsBusy,
        ScriptError.CheckoutsBusy,
        ScriptError.CheckoutsBusy,
      ])
      expect(await scripts.counters(saleId)).toMatchObject({ available: 8, held: 2 })
      await scripts.releaseHold(saleId, redeemInput(0).orderId)
      expect((await scripts.redeemToken(saleId, redeemInput(3, { maxCheckouts: 2 }))).kind).toBe('held')
      // a replay of a held token is never capped
      expect((await scripts.redeemToken(saleId, redeemInput(1, { maxCheckouts: 2 }))).kind).toBe('replayed')
    })
  })

  it('should say the sale is unknown when it was never seeded', async () => {
    expect(await scripts.redeemToken('never-seeded', redeemInput(1))).toEqual({
      kind: 'refused',
      error: ScriptError.SaleNotFound,
    })
  })
})

describe('hold lifecycle', () => {
  it('should release expired holds back to stock and let the next generation of the token sell', async () => {
    await seed(3, 1, 30)
    for (let i = 0; i < 3; i++) await scripts.redeemToken(saleId, redeemInput(i))
    expect(await scripts.releaseExpiredHolds(saleId, NOW + 29_999)).toEqual([])
    const released = await scripts.releaseExpiredHolds(saleId, NOW + 30_000)
    expect(released.map((r) => r.tid).sort()).toEqual([0, 1, 2].map((i) => redeemInput(i).tid))
    expect(released.every((r) => r.gen === 1)).toBe(true)
    expect(await scripts.counters(saleId)).toEqual({ stock: 3, available: 3, held: 0, sold: 0 })
    // the old grant cannot come back; the next shopper's grant (gen 2) can
    const stale = await scripts.redeemToken(saleId, redeemInput(0, { idempotencyKey: 'retry-key-000' }))
    expect(stale).toEqual({ kind: 'refused', error: ScriptError.TokenUsed })
    const next = await scripts.redeemToken(saleId, nextInLine(0, 'f'))
    expect(next.kind).toBe('held')
    expect((await scripts.counters(saleId)).available).toBe(2)
  })

  it('should never release a committed hold, and refuse to commit one that already expired', async () => {
    await seed(2, 1, 30)
    const a = redeemInput(1)
    const b = redeemInput(2)
    await scripts.redeemToken(saleId, a)
    await scripts.redeemToken(saleId, b)
    expect(await scripts.commitHold(saleId, a.orderId)).toBe(true)
    expect(await scripts.commitHold(saleId, a.orderId)).toBe(true)
    expect(await scripts.holdState(saleId, a.orderId)).toBe('committed')
    const released = await scripts.releaseExpiredHolds(saleId, NOW + 60_000)
    expect(released.map((r) => r.orderId)).toEqual([b.orderId])
    expect(await scripts.commitHold(saleId, b.orderId)).toBe(false)
    expect(await scripts.finalizeHold(saleId, a.orderId)).toEqual({ tid: a.tid, gen: 1 })
    expect(await scripts.finalizeHold(saleId, a.orderId)).toBeNull()
    expect(await scripts.counters(saleId)).toEqual({ stock: 2, available: 1, held: 0, sold: 1 })
  })

  it('should release a hold exactly once and give the shopper their allowance back', async () => {
    await seed(2, 1, 30)
    const a = redeemInput(1)
    await scripts.redeemToken(saleId, a)
    expect(await scripts.releaseHold(saleId, a.orderId)).toEqual({ tid: a.tid, gen: 1 })
    // Again (a saga re-run after a crash): the unit is not released twice, but the token is named again.
    expect(await scripts.releaseHold(saleId, a.orderId)).toEqual({ tid: a.tid, gen: 1 })
    expect(await scripts.counters(saleId)).toEqual({ stock: 2, available: 2, held: 0, sold: 0 })
    const again = await scripts.redeemToken(saleId, redeemInput(3, { shopper: a.shopper }))
    expect(again.kind).toBe('held')
    expect(await scripts.counters(saleId)).toEqual({ stock: 2, available: 1, held: 1, sold: 0 })
  })

  it('should name the token of a hold given back earlier, so a caller that died before telling the room can tell it', async () => {
    await seed(3, 1, 30)
    const swept = redeemInput(1)
    const sold = redeemInput(2)
    await scripts.redeemToken(saleId, swept)
    await scripts.redeemToken(saleId, sold)
    expect(await scripts.commitHold(saleId, sold.orderId)).toBe(true)
    expect(await scripts.releaseExpiredHolds(saleId, NOW + 30_000)).toEqual([
      { orderId: swept.orderId, tid: swept.tid, gen: 1 },
    ])
    // The sweep gave it back; the order's saga, finding its hold gone, still learns which token to return.
    expect(await scripts.releaseHold(saleId, swept.orderId)).toEqual({ tid: swept.tid, gen: 1 })
    // The next generation of the token is redeemed: the old order's answer stays about its own generation.
    const next = nextInLine(1, 'd')
    expect((await scripts.redeemToken(saleId, next)).kind).toBe('held')
    expect(await scripts.releaseHold(saleId, swept.orderId)).toEqual({ tid: swept.tid, gen: 1 })
    expect(await scripts.holdState(saleId, next.orderId)).toBe('held')
    // Nothing to give back: a sold hold, an order never held.
    expect(await scripts.finalizeHold(saleId, sold.orderId)).toEqual({ tid: sold.tid, gen: 1 })
    expect(await scripts.releaseHold(saleId, sold.orderId)).toBeNull()
    expect(await scripts.releaseHold(saleId, `ord_${'0'.repeat(31)}9`)).toBeNull()
    expect(await scripts.counters(saleId)).toEqual({ stock: 3, available: 1, held: 1, sold: 1 })
  })
})

describe('room outbox', () => {
  it('should keep every released token, by release time, until it is cleared', async () => {
    await seed(3, 1, 30)
    const declined = redeemInput(1)
    const expired = redeemInput(2)
    await scripts.redeemToken(saleId, declined)
    await scripts.redeemToken(saleId, expired)
    expect(await scripts.releaseHold(saleId, declined.orderId, NOW + 1_000)).toEqual({ tid: declined.tid, gen: 1 })
    expect(await scripts.releaseExpiredHolds(saleId, NOW + 30_000)).toEqual([
      { orderId: expired.orderId, tid: expired.tid, gen: 1 },
    ])
    // Released before: the token is named again, but its release time stays the first one.
    expect(await scripts.releaseHold(saleId, declined.orderId, NOW + 40_000)).toEqual({ tid: declined.tid, gen: 1 })
    expect(await scripts.roomOutbox(saleId, NOW + 999)).toEqual([])
    expect(await scripts.roomOutbox(saleId, NOW + 29_999)).toEqual([{ tid: declined.tid, gen: 1 }])
    const all = await scripts.roomOutbox(saleId, NOW + 30_000)
    expect(all).toEqual([
      { tid: declined.tid, gen: 1 },
      { tid: expired.tid, gen: 1 },
    ])
    await scripts.clearRoomOutbox(saleId, all)
    expect(await scripts.roomOutbox(saleId, Number.MAX_SAFE_INTEGER)).toEqual([])
    expect(await scripts.counters(saleId)).toEqual({ stock: 3, available: 3, held: 0, sold: 0 })
  })
})

describe('adoptHold', () => {
  const tokenState = (tid: string) => redis.hget(saleKeys(prefix, saleId).tokens, tid)

  it('should adopt a held or committed hold and say nothing can be known while the sale is missing', async () => {
    const a = redeemInput(1)
    expect(await scripts.adoptHold(saleId, a)).toBe('sale_missing')
    await seed(2, 1, 30)
    await scripts.redeemToken(saleId, a)
    expect(await scripts.adoptHold(saleId, a)).toBe('held')
    expect(await scripts.commitHold(saleId, a.orderId)).toBe(true)
    expect(await scripts.adoptHold(saleId, a)).toBe('committed')
    expect(await scripts.counters(saleId)).toEqual({ stock: 2, available: 1, held: 1, sold: 0 })
  })

  describe('when the hold was lost (Redis rebuilt without it)', () => {
    it('should fence the generation, so a retry of the same grant cannot hold the unit the next shopper gets', async () => {
      await seed(1, 1, 30)
      const lost = redeemInput(1)
      expect(await scripts.adoptHold(saleId, lost)).toBe('returned')
      // Told twice (a saga re-run): the same answer, nothing more written.
      expect(await scripts.adoptHold(saleId, lost)).toBe('returned')
      expect(await scripts.releaseHold(saleId, lost.orderId)).toEqual({ tid: lost.tid, gen: 1 })
      const retry = await scripts.redeemToken(saleId, lost)
      expect(retry).toEqual({ kind: 'refused', error: ScriptError.TokenUsed })
      expect(await scripts.counters(saleId)).toEqual({ stock: 1, available: 1, held: 0, sold: 0 })
      const next = nextInLine(1, 'e')
      expect((await scripts.redeemToken(saleId, next)).kind).toBe('held')
      expect(await scripts.counters(saleId)).toEqual({ stock: 1, available: 0, held: 1, sold: 0 })
    })

    it('should leave a token alone that a later generation or a sale took, and tell nobody', async () => {
      await seed(2, 1, 30)
      const old = redeemInput(1)
      const next = nextInLine(1, 'c')
      expect((await scripts.redeemToken(saleId, next)).kind).toBe('held')
      expect(await scripts.adoptHold(saleId, old)).toBe('taken')
      expect(await scripts.adoptHold(saleId, next)).toBe('held')
      expect(await scripts.commitHold(saleId, next.orderId)).toBe(true)
      expect(await scripts.finalizeHold(saleId, next.orderId)).toEqual({ tid: next.tid, gen: 2 })
      // Its own sold generation, run again: no hold, and nothing to tell the room.
      expect(await scripts.adoptHold(saleId, next)).toBe('taken')
      expect(await scripts.counters(saleId)).toEqual({ stock: 2, available: 1, held: 0, sold: 1 })
      expect(await tokenState(next.tid)).toMatch(/^2\|sold\|/)
    })

    it('should hand on an older released generation as this one released', async () => {
      await seed(2, 1, 30)
      const first = redeemInput(1)
      await scripts.redeemToken(saleId, first)
      await scripts.releaseHold(saleId, first.orderId)
      const second = nextInLine(1, 'b')
      expect(await scripts.adoptHold(saleId, second)).toBe('returned')
      expect(await tokenState(first.tid)).toBe(`2|released|${second.orderId}|${second.shopper}`)
      expect(await scripts.counters(saleId)).toEqual({ stock: 2, available: 2, held: 0, sold: 0 })
    })
  })
})

describe('expireGrants', () => {
  it('should void unredeemed grants so they can never be redeemed, and report redeemed ones', async () => {
    await seed(5)
    const redeemed = redeemInput(1)
    await scripts.redeemToken(saleId, redeemed)
    const lapsed = redeemInput(2)
    const results = await scripts.expireGrants(saleId, [
      { tid: redeemed.tid, gen: 1 },
      { tid: lapsed.tid, gen: 1 },
    ])
    expect(results.map((r) => r.state)).toEqual(['redeemed', 'voided'])
    expect(await scripts.redeemToken(saleId, lapsed)).toEqual({ kind: 'refused', error: ScriptError.GrantSuperseded })
    expect(await scripts.expireGrants(saleId, [{ tid: lapsed.tid, gen: 1 }])).toEqual([
      { tid: lapsed.tid, gen: 1, state: 'voided' },
    ])
    const regranted = await scripts.redeemToken(
      saleId,
      redeemInput(2, {
        gen: 2,
        shopper: 'second_chance_00000000',
        idempotencyKey: 'second-chance',
        orderId: `ord_${'e'.repeat(32)}`,
      }),
    )
    expect(regranted.kind).toBe('held')
    expect(await scripts.counters(saleId)).toMatchObject({ available: 3, held: 2 })
  })
})

describe('script loader', () => {
  const fixture = (name: string) => fileURLToPath(new URL(`./__fixtures__/${name}/`, import.meta.url))

  it('should load every script with its key count from the file name', () => {
    const names = loadScripts().map((s) => `${s.name}-${s.numberOfKeys}`)
    expect(names).toContain('redeemToken-8')
    expect(names).toContain('releaseExpiredHolds-7')
    for (const s of loadScripts()) expect(s.lua).not.toContain('@include')
  })

  it.each([
    ['circular', /circular include/],
    ['missing', /missing script or include/],
    ['twice', /included twice/],
    ['badname', /file names must look like/],
  ])('should refuse the %s fixture loudly', (name, message) => {
    expect(() => loadScripts(fixture(name))).toThrowError(ScriptLoaderError)
    expect(() => loadScripts(fixture(name))).toThrowError(message)
  })
})

describe('when the stock scripts answer with a reply code', () => {
  it('should give every meaning its own code, from the one table both Lua and TypeScript read', () => {
    const codes = Object.values(Reply)
    expect(new Set(codes).size).toBe(codes.length)
    for (const script of loadScripts()) {
      // A literal status code in a return is a code outside the table.
      expect(script.lua, script.name).not.toMatch(/return\s+\{?\s*-?\d+\s*[,}\n]/)
      if (script.lua.includes('Reply.')) expect(script.lua, script.name).toContain('local Reply = { SoldOut = -1')
    }
  })
})
