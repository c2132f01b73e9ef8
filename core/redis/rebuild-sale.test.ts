import type { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { dropRedisPrefix, testRedis, uniqueName } from '../../test/support/services.ts'
import { Scripts } from './scripts.ts'

let redis: Redis
let prefix: string
let scripts: Scripts
const SALE = { stock: 5, perShopperLimit: 2, holdTtlSeconds: 60 }
const NOW = 1_800_000_000_000

beforeAll(() => {
  redis = testRedis()
})
afterAll(async () => {
  await dropRedisPrefix(redis, prefix)
  redis.disconnect()
})
beforeEach(() => {
  prefix = uniqueName('fgrb')
  scripts = new Scripts(redis, prefix)
})

describe('rebuildSale', () => {
  describe('when the sale is gone from Redis', () => {
    it('should restore sold, holds, token states and per-shopper counts so that the units add up', async () => {
      const result = await scripts.rebuildSale('rb-1', SALE, {
        sold: 2,
        tokens: [
          ['tok_a', '1|sold|ord_a|shopper_x'],
          ['tok_b', '2|sold|ord_b|shopper_y'],
          ['tok_c', '1|committed|ord_c|shopper_x'],
          ['tok_d', '3|held|ord_d|shopper_z'],
          ['tok_e', '1|released|ord_e|shopper_z'],
        ],
        holds: [
          ['ord_c', 'tok_c', 1, 'shopper_x', 0],
          ['ord_d', 'tok_d', 3, 'shopper_z', NOW + 60_000],
        ],
      })
      expect(result).toEqual({ available: 1 })
      expect(await scripts.counters('rb-1')).toEqual({ stock: 5, available: 1, held: 2, sold: 2 })
      expect(await scripts.holdState('rb-1', 'ord_c')).toBe('committed')
      expect(await scripts.holdState('rb-1', 'ord_d')).toBe('held')
      const k = scripts.keys('rb-1')
      expect(await redis.hgetall(k.shoppers)).toEqual({ shopper_x: '2', shopper_y: '1', shopper_z: '1' })
      // shopper_x is at the limit of 2 again: a third redeem is refused, as before the loss
      const third = await scripts.redeemToken('rb-1', {
        tid: 'tok_f',
        gen: 1,
        shopper: 'shopper_x',
        idempotencyKey: 'rb-key-000001',
        orderId: 'ord_f',
        nowMs: NOW,
        grantExpiresAtMs: NOW + 1000,
      })
      expect(third).toEqual({ kind: 'refused', error: -3 })
      // the expired hold of ord_d is swept like any other
      expect(await scripts.releaseExpiredHolds('rb-1', NOW + 61_000)).toEqual([
        { orderId: 'ord_d', tid: 'tok_d', gen: 3 },
      ])
    })

    it('should refuse figures that do not add up', async () => {
      await expect(
        scripts.rebuildSale('rb-2', SALE, { sold: 5, tokens: [], holds: [['ord_x', 'tok_x', 1, 's', 0]] }),
      ).rejects.toThrow(/Inconsistent/)
      expect(await scripts.saleExists('rb-2')).toBe(false)
    })
  })

  describe('when Redis still has the sale', () => {
    it('should change nothing', async () => {
      await scripts.seedSale('rb-3', SALE)
      expect(await scripts.rebuildSale('rb-3', SALE, { sold: 3, tokens: [], holds: [] })).toBeNull()
      expect(await scripts.counters('rb-3')).toEqual({ stock: 5, available: 5, held: 0, sold: 0 })
    })
  })
})
