import type { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { dropRedisPrefix, testRedis, uniqueName } from '../../test/support/services.ts'
import { CatalogScripts, catalogKeys } from './catalog-scripts.ts'

let redis: Redis
let prefix: string
let scripts: CatalogScripts

beforeEach(() => {
  redis = testRedis()
  prefix = uniqueName('fgc')
  scripts = new CatalogScripts(redis, prefix)
})
afterEach(async () => {
  await dropRedisPrefix(redis, prefix)
  redis.disconnect()
})

describe('catalog keys', () => {
  it('should put every key under the {catalog} hash tag', () => {
    for (const key of Object.values(catalogKeys('fg'))) expect(key).toMatch(/^fg:\{catalog\}:[a-z]+$/)
  })
})

describe('setStock-1.lua', () => {
  it('should write newer versions only, SKU by SKU', async () => {
    expect(
      await scripts.setStock([
        { sku: 'A', quantity: 5, version: 2 },
        { sku: 'B', quantity: 1, version: 1 },
      ]),
    ).toBe(2)

    expect(
      await scripts.setStock([
        { sku: 'A', quantity: 9, version: 1 },
        { sku: 'B', quantity: 0, version: 2 },
        { sku: 'A', quantity: 7, version: 2 },
      ]),
    ).toBe(1)

    expect(await scripts.readStock(['A', 'B', 'C'])).toEqual([
      { quantity: 5, version: 2 },
      { quantity: 0, version: 2 },
      null,
    ])
  })

  it('should keep a tombstone (-1) at its version, and let a newer version replace it', async () => {
    await scripts.setStock([{ sku: 'GONE', quantity: -1, version: 0 }])
    expect(await scripts.readStock(['GONE'])).toEqual([{ quantity: -1, version: 0 }])
    expect(await scripts.setStock([{ sku: 'GONE', quantity: 3, version: 1 }])).toBe(1)
    expect(await scripts.readStock(['GONE'])).toEqual([{ quantity: 3, version: 1 }])
  })

  it('should take more SKUs than one call carries', async () => {
    const copies = Array.from({ length: 2500 }, (_, i) => ({ sku: `S${i}`, quantity: i, version: 1 }))
    expect(await scripts.setStock(copies)).toBe(2500)
    expect(await redis.hlen(scripts.keys.stock)).toBe(2500)
  })
})

describe('bumpTags-4.lua and readChanges-4.lua', () => {
  it('should give each change one new sequence number and list the tags changed after a point', async () => {
    const first = await scripts.bumpTags(['p:a', 'c:x'])
    const second = await scripts.bumpTags(['p:b', 'c:x'])

    expect(second).toBe(first + 1)
    const all = await scripts.readChanges(0)
    expect(all).toMatchObject({ seq: second, floor: 0, tags: { 'p:a': first, 'c:x': second, 'p:b': second } })
    expect((await scripts.readChanges(first)).tags).toEqual({ 'c:x': second, 'p:b': second })
    expect((await scripts.readChanges(second)).tags).toEqual({})
  })

  it('should drop the oldest tags past the limit and raise the floor to the newest one dropped', async () => {
    const k = scripts.keys
    const bump = async (tags: string[], keep: number) =>
      Number(
        await redis.eval(
          // The script itself, with a small limit: the same file the class loads.
          (await import('node:fs')).readFileSync(new URL('./lua/bumpTags-4.lua', import.meta.url), 'utf8'),
          4,
          k.seq,
          k.tags,
          k.floor,
          k.epoch,
          'e1',
          keep,
          ...tags,
        ),
      )
    await bump(['t1'], 3)
    await bump(['t2'], 3)
    const third = await bump(['t3', 't4'], 3)

    const changes = await scripts.readChanges(0)
    expect(changes.floor).toBe(1)
    expect(changes.tags).toEqual({ t2: 2, t3: third, t4: third })
  })

  it('should treat everything as changed after a reset', async () => {
    await scripts.bumpTags(['p:a'])
    const seq = await scripts.resetTags()

    expect(await scripts.readChanges(0)).toMatchObject({ seq, floor: seq, tags: {} })
  })

  it('should say "everything changed" instead of listing more than the limit', async () => {
    await scripts.bumpTags(['a', 'b', 'c'])
    expect(await scripts.readChanges(0, 2)).toMatchObject({ seq: 1, floor: 1, tags: {} })
  })

  it('should keep one epoch until the keys are lost, then start another', async () => {
    const epoch = (await scripts.readChanges(0)).epoch
    await scripts.bumpTags(['a'])
    expect((await scripts.readChanges(0)).epoch).toBe(epoch)

    await dropRedisPrefix(redis, prefix)
    expect((await scripts.readChanges(0)).epoch).not.toBe(epoch)
  })
})
