import { describe, expect, it } from 'vitest'
import type { CatalogChanges } from '../../contracts/index.ts'
import { EdgeCatalog } from './catalog-data.ts'
import { CatalogVersions, VERSIONS_TTL_MS } from './versions.ts'

/** A stand-in for core's change feed: tags bumped with a sequence number, read after a point. */
class Feed {
  epoch = 'e1'
  seq = 0
  tags = new Map<string, number>()
  reads = 0
  down = false
  bump(...tags: string[]) {
    this.seq++
    for (const t of tags) this.tags.set(t, this.seq)
  }
  async read(after: number): Promise<CatalogChanges> {
    this.reads++
    if (this.down) throw new Error('core down')
    return {
      epoch: this.epoch,
      seq: this.seq,
      floor: 0,
      tags: Object.fromEntries([...this.tags].filter(([, v]) => v > after)),
    }
  }
}

describe('tag versions', () => {
  it('should ask core at most once per VERSIONS_TTL_MS however many requests come', async () => {
    const feed = new Feed()
    const versions = new CatalogVersions((after) => feed.read(after))
    await Promise.all(Array.from({ length: 100 }, () => versions.fresh(1_000)))
    await versions.fresh(1_000 + VERSIONS_TTL_MS - 1)
    expect(feed.reads).toBe(1)
    await versions.fresh(1_000 + VERSIONS_TTL_MS)
    expect(feed.reads).toBe(2)
  })

  it('should change a tag version when the tag changes, and no other', async () => {
    const feed = new Feed()
    feed.bump('p:a', 'c:x')
    const versions = new CatalogVersions((after) => feed.read(after))
    await versions.fresh(0)
    const [a, b] = [versions.version('p:a'), versions.version('p:b')]

    feed.bump('p:a')
    await versions.fresh(VERSIONS_TTL_MS)

    expect(versions.version('p:a')).not.toBe(a)
    expect(versions.version('p:b')).toBe(b)
  })

  it('should forget everything when core lost its feed (a new epoch)', async () => {
    const feed = new Feed()
    feed.bump('p:a')
    const versions = new CatalogVersions((after) => feed.read(after))
    await versions.fresh(0)
    const before = [versions.version('p:a'), versions.version('p:b')]

    feed.epoch = 'e2'
    feed.seq = 0
    feed.tags.clear()
    await versions.fresh(VERSIONS_TTL_MS)

    expect(versions.version('p:a')).not.toBe(before[0])
    expect(versions.version('p:b')).not.toBe(before[1])
  })

  it('should keep its versions while core is down, and let a new instance start from the saved ones', async () => {
    const feed = new Feed()
    feed.bump('p:a')
    const shelf: { value: CatalogChanges | null } = { value: null }
    const saved = { load: async () => shelf.value, save: async (s: CatalogChanges) => void (shelf.value = s) }
    const first = new CatalogVersions((after) => feed.read(after), VERSIONS_TTL_MS, saved)
    await first.fresh(0)
    const known = first.version('p:a')

    feed.down = true
    await first.fresh(VERSIONS_TTL_MS)
    expect(first.version('p:a')).toBe(known)
    const second = new CatalogVersions((after) => feed.read(after), VERSIONS_TTL_MS, saved)
    await second.fresh(0)
    expect(second.version('p:a')).toBe(known)
  })
})

/**
 * The promise: an operator's price change reaches every edge instance within 2 s. Three instances (each
 * its own EdgeCatalog: memory, versions, Cache API store) serve a product page from a fake core; shoppers ask
 * each instance every 50 ms of simulated time; the price changes at t = 10 s. Measured: when each instance
 * first served the new price. Deterministic (the clock is the test's), so it measures the mechanism, not the
 * machine; `npm run bench:catalog` measures it for real across Miniflare instances.
 */
describe('when an operator changes a price', () => {
  it('should reach every edge instance within 2 s (at most VERSIONS_TTL_MS after the change)', async () => {
    const feed = new Feed()
    let price = 24_900
    let now = 0
    const core = async (path: string): Promise<Response> => {
      if (path.startsWith('/v1/catalog/changes'))
        return Response.json(await feed.read(Number(new URL(path, 'http://x').searchParams.get('after'))))
      if (path === '/v1/products/sonix') return Response.json({ slug: 'sonix', priceCents: price })
      return new Response('{}', { status: 404 })
    }
    const instances = await Promise.all(
      [0, 1, 2].map(
        async (i) => new EdgeCatalog(core, await caches.open(`price-test-${i}-${crypto.randomUUID()}`), () => now),
      ),
    )
    const view = async (edge: EdgeCatalog) =>
      (await edge.get<{ priceCents: number }>('product', '/v1/products/sonix', 'p:sonix')).data.priceCents

    const changeAt = 10_000
    const seenAt: Array<number | null> = [null, null, null]
    for (now = 0; now <= changeAt + 5_000; now += 50) {
      if (now === changeAt) {
        price = 19_900
        feed.bump('p:sonix')
      }
      for (const [i, edge] of instances.entries()) {
        const p = await view(edge)
        if (now < changeAt) expect(p).toBe(24_900)
        if (p === 19_900 && seenAt[i] === null) seenAt[i] = now
      }
    }

    const delays = seenAt.map((t) => (t === null ? Number.POSITIVE_INFINITY : t - changeAt))
    expect(Math.max(...delays)).toBeLessThanOrEqual(VERSIONS_TTL_MS)
    expect(Math.max(...delays)).toBeLessThan(2_000)
  })
})
