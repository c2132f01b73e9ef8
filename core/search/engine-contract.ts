/**
 * The contract every search engine keeps, as a vitest suite: postgres-engine.test.ts runs it on real Postgres
 * in every run, elasticsearch-engine.test.ts on a real Elasticsearch when ES_URL is set. The documents come
 * from a real catalog (a 600-product slice of the sample catalog in its own schema), and facet counts,
 * totals and pages are checked against brute-force SQL over the catalog's own tables.
 */
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  PRICE_BUCKETS,
  SearchQuery,
  type SearchDocument,
  type SearchQueryInput,
  type SearchResponse,
} from '../../contracts/index.ts'
import { dropRedisPrefix, migratedDatabase, testRedis, uniqueName } from '../../test/support/services.ts'
import { Catalog } from '../catalog/catalog.ts'
import { sampleCatalog, seededRandom } from '../catalog/sample-catalog.ts'
import { createLogger } from '../logger.ts'
import type { SearchEngine } from './engine.ts'

export interface ContractEnv {
  db: pg.Pool
  catalog: Catalog
}

export interface ContractEngine {
  engine: SearchEngine
  /** Makes writes searchable before the next query (Elasticsearch's refresh); nothing for Postgres. */
  settle(): Promise<void>
  destroy(): Promise<void>
}

const CONTRACT_PRODUCTS = 600
const PROPERTY_RUNS = 40

/** Brute force over the catalog's tables: each product's brand, category subtree, cheapest price and stock. */
const TRUTH = `
  WITH RECURSIVE up AS (
    SELECT id AS category_id, id AS ancestor FROM catalog_categories
    UNION ALL SELECT up.category_id, c.parent_id FROM up JOIN catalog_categories c ON c.id = up.ancestor
      WHERE c.parent_id IS NOT NULL
  )
  SELECT p.id, p.brand, c.slug AS category,
         (SELECT array_agg(a.slug) FROM up JOIN catalog_categories a ON a.id = up.ancestor
           WHERE up.category_id = p.category_id) AS categories,
         (SELECT min(coalesce(v.sale_price_cents, v.list_price_cents)) FROM catalog_variants v
           WHERE v.product_id = p.id AND v.archived_at IS NULL) AS price,
         EXISTS (SELECT 1 FROM catalog_variants v WHERE v.product_id = p.id AND v.archived_at IS NULL
           AND v.stock > 0) AS in_stock
    FROM catalog_products p JOIN catalog_categories c ON c.id = p.category_id
   WHERE p.status = 'active' AND p.slug = ANY($1)`

interface Truth {
  id: number
  brand: string
  category: string
  categories: string[]
  price: number
  in_stock: boolean
}

async function allHits(engine: SearchEngine, input: SearchQueryInput): Promise<string[]> {
  const slugs: string[] = []
  let cursor: string | undefined
  for (let page = 0; page < 200; page++) {
    const result = await engine.search(SearchQuery.parse({ ...input, limit: 48, ...(cursor ? { cursor } : {}) }))
    slugs.push(...result.hits.map((h) => h.slug))
    if (!result.nextCursor) return slugs
    cursor = result.nextCursor
  }
  throw new Error('more than 200 pages')
}

function counts<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const out = new Map<string, number>()
  for (const item of items) out.set(key(item), (out.get(key(item)) ?? 0) + 1)
  return out
}

/** Every returned facet value has the brute-force count, and no value left out has more than the smallest returned. */
function expectFacet(returned: Array<{ value: string; count: number }>, truth: Map<string, number>, what: string) {
  for (const f of returned) expect(f.count, `${what} ${f.value}`).toBe(truth.get(f.value) ?? 0)
  const shown = new Set(returned.map((f) => f.value))
  const smallest = Math.min(...returned.map((f) => f.count))
  const missing = [...truth].filter(([value, n]) => !shown.has(value) && n > 0)
  if (returned.length < 30) expect(missing, `${what} values left out`).toEqual([])
  else for (const [value, n] of missing) expect(n, `${what} ${value} left out`).toBeLessThanOrEqual(smallest)
}

export function searchEngineContract(
  name: string,
  makeEngine: (env: ContractEnv) => Promise<ContractEngine>,
  enabled = true,
): void {
  describe.runIf(enabled)(`search engine contract: ${name}`, () => {
    let db: pg.Pool
    let drop: () => Promise<void>
    let redis: Redis
    let prefix: string
    let catalog: Catalog
    let subject: ContractEngine
    let engine: SearchEngine
    let docs: SearchDocument[]

    const search = (input: SearchQueryInput): Promise<SearchResponse> => engine.search(SearchQuery.parse(input))
    const slugs = (r: SearchResponse) => r.hits.map((h) => h.slug)

    beforeAll(async () => {
      ;({ db, drop } = await migratedDatabase('fgsc_'))
      redis = testRedis()
      prefix = uniqueName('fgsc')
      catalog = new Catalog({ db, redis, prefix, logger: createLogger('silent') })
      const lines = sampleCatalog({ products: CONTRACT_PRODUCTS })
      for (let i = 0; i < lines.length; i += 500) {
        const result = await catalog.importItems(lines.slice(i, i + 500).map((item, j) => ({ line: i + j + 1, item })))
        if (result.errors)
          throw new Error(`contract catalog did not import: ${JSON.stringify(result.results.find((r) => r.error))}`)
      }
      subject = await makeEngine({ db, catalog })
      engine = subject.engine
      await engine.ensureReady()
      docs = []
      for await (const batch of catalog.store.allDocuments(250)) docs.push(...batch)
      await engine.upsert(docs)
      await subject.settle()
    }, 120_000)

    afterAll(async () => {
      await subject?.destroy()
      await dropRedisPrefix(redis, prefix)
      redis.disconnect()
      await drop()
    })

    describe('when searching for words', () => {
      it('should find a product by the words of its name, best first', async () => {
        const result = await search({ q: 'aurora espresso duo' })
        expect(slugs(result)[0]).toBe('aurora-espresso-machine-duo')
        expect(result.engine).toBe(engine.name)
      })

      it('should find it through typos and say what was meant', async () => {
        const result = await search({ q: 'aurra espreso duo' })
        expect(slugs(result).slice(0, 3)).toContain('aurora-espresso-machine-duo')
        expect(result.didYouMean).toMatch(/aurora/)
      })

      it('should ignore accents either way', async () => {
        expect(slugs(await search({ q: 'creme brulee torch' }))[0]).toBe('creme-brulee-torch-set')
        expect(slugs(await search({ q: 'Crème Brûlée' })).slice(0, 3)).toContain('creme-brulee-torch-set')
      })

      it('should match the last word as a prefix while it is being typed', async () => {
        expect(slugs(await search({ q: 'hoshiro dama' })).slice(0, 3)).toContain('hoshiro-damascus-chef-knife')
      })

      it('should say nothing about "did you mean" when every word is known', async () => {
        expect((await search({ q: 'kestrel carbon road bike' })).didYouMean).toBeNull()
      })

      it('should suggest names for a prefix', async () => {
        const { suggestions } = await engine.suggest('leuchtkr', 5)
        expect(suggestions.map((s) => s.slug)).toContain('leuchtkraft-mirrorless-camera-m9')
        expect(suggestions.length).toBeLessThanOrEqual(5)
      })
    })

    describe('when filtering, sorting and paging', () => {
      it('should count facets, totals and pages exactly as brute-force SQL over the catalog does', async () => {
        const random = seededRandom(7)
        const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!
        const words = [
          '',
          '',
          'headphones',
          'wireless',
          'sonix',
          'espresso machine',
          'black',
          'pro',
          'tent',
          'lamp',
          'shoe',
          'nordkap',
        ]
        const brands = [...new Set(docs.map((d) => d.brand))]
        const categories = [...new Set(docs.flatMap((d) => d.categorySlugs))]
        for (let run = 0; run < PROPERTY_RUNS; run++) {
          const q = pick(words)
          const input: SearchQueryInput = { q }
          if (random() < 0.4) input.brand = [pick(brands), pick(brands)].join(',')
          if (random() < 0.4) input.category = pick(categories)
          if (random() < 0.3) {
            const b = pick([...PRICE_BUCKETS])
            if (b.from !== null) input.priceMin = b.from
            if (b.to !== null) input.priceMax = b.to - 1
          }
          if (random() < 0.3) input.inStock = random() < 0.5 ? 'true' : 'false'
          const query = SearchQuery.parse(input)
          const label = JSON.stringify(input)

          const matched = await allHits(engine, { q, sort: 'newest' })
          const { rows: truth } = await db.query<Truth>(TRUTH, [matched])
          const inStockOk = (t: Truth) => query.inStock === undefined || t.in_stock === query.inStock
          const brandOk = (t: Truth) => !query.brand?.length || query.brand.includes(t.brand)
          const categoryOk = (t: Truth) =>
            !query.category?.length || t.categories.some((c) => query.category!.includes(c))
          const priceOk = (t: Truth) =>
            (query.priceMin === undefined || t.price >= query.priceMin) &&
            (query.priceMax === undefined || t.price <= query.priceMax)
          const base = truth.filter(inStockOk)

          const result = await engine.search(query)
          const expected = base.filter((t) => brandOk(t) && categoryOk(t) && priceOk(t))
          expect(result.total, label).toBe(expected.length)
          expectFacet(
            result.facets.brand,
            counts(
              base.filter((t) => categoryOk(t) && priceOk(t)),
              (t) => t.brand,
            ),
            `${label} brand`,
          )
          expectFacet(
            result.facets.category,
            counts(
              base.filter((t) => brandOk(t) && priceOk(t)),
              (t) => t.category,
            ),
            `${label} category`,
          )
          const forPrice = base.filter((t) => brandOk(t) && categoryOk(t))
          for (const bucket of result.facets.price) {
            const n = forPrice.filter(
              (t) => (bucket.from === null || t.price >= bucket.from) && (bucket.to === null || t.price < bucket.to),
            ).length
            expect(bucket.count, `${label} price ${bucket.key}`).toBe(n)
          }
          for (const sort of ['relevance', 'price_asc', 'price_desc'] as const) {
            const paged = await allHits(engine, { ...input, sort })
            expect(new Set(paged).size, `${label} ${sort} no duplicates`).toBe(paged.length)
            const { rows } = await db.query<{ slug: string; id: number }>(
              'SELECT slug, id FROM catalog_products WHERE id = ANY($1)',
              [expected.map((t) => t.id)],
            )
            expect([...paged].sort(), `${label} ${sort} pages`).toEqual(rows.map((r) => r.slug).sort())
            if (sort !== 'relevance') {
              const prices = new Map(docs.map((d) => [d.slug, d.priceCents]))
              const seq = paged.map((s) => prices.get(s)!)
              const ordered = [...seq].sort((a, b) => (sort === 'price_asc' ? a - b : b - a))
              expect(seq, `${label} ${sort} order`).toEqual(ordered)
            }
          }
        }
      }, 300_000)

      it('should mark the selected facet values', async () => {
        const result = await search({ q: 'headphones', brand: 'Sonix', priceMin: 10_000, priceMax: 24_999 })
        expect(result.facets.brand.find((b) => b.value === 'Sonix')?.selected).toBe(true)
        expect(result.facets.brand.filter((b) => b.selected)).toHaveLength(1)
        expect(result.facets.price.filter((p) => p.selected).map((p) => p.key)).toEqual(['100-250'])
      })

      it('should refuse a cursor from another sort', async () => {
        const first = await search({ q: '', sort: 'price_asc', limit: 2 })
        await expect(search({ q: '', sort: 'name', cursor: first.nextCursor! })).rejects.toMatchObject({
          code: 'invalid_query',
          field: 'cursor',
        })
      })
    })

    describe('when documents change', () => {
      it('should never let an older version replace a newer one', async () => {
        const doc = docs.find((d) => d.slug === 'zenflow-cork-yoga-mat')!
        const newer = { ...doc, version: doc.version + 2, name: 'Zenflow Cork Yoga Mat Quokka' }
        const older = { ...doc, version: doc.version + 1, name: 'Zenflow Cork Yoga Mat Wombat' }

        expect(await engine.upsert([newer])).toEqual({ applied: 1, stale: 0 })
        expect(await engine.upsert([older])).toEqual({ applied: 0, stale: 1 })
        await subject.settle()

        expect(slugs(await search({ q: 'quokka' }))).toEqual(['zenflow-cork-yoga-mat'])
        expect(slugs(await search({ q: 'wombat' }))).not.toContain('zenflow-cork-yoga-mat')
      })

      it('should leave inactive (archived) documents out', async () => {
        const doc = docs.find((d) => d.slug === 'pawsome-orthopedic-dog-bed')!
        await engine.upsert([{ ...doc, version: doc.version + 5, active: false }])
        await subject.settle()

        expect(slugs(await search({ q: 'pawsome orthopedic' }))).not.toContain('pawsome-orthopedic-dog-bed')
        expect((await engine.suggest('pawsome ortho', 5)).suggestions.map((s) => s.slug)).not.toContain(
          'pawsome-orthopedic-dog-bed',
        )
      })

      it('should rebuild the whole index from the catalog and keep answering', async () => {
        const before = await engine.status()
        const report = await engine.reindex(catalog.store.allDocuments(200))
        await subject.settle()

        expect(report.documents).toBe(docs.length)
        expect((await engine.status()).documents).toBe(docs.length)
        if (engine.name === 'elasticsearch') expect(report.index).not.toBe(before.index)
        // The catalog's own version of the yoga mat is back: the test's newer name is gone with the old index.
        expect(slugs(await search({ q: 'aurora espresso duo' }))[0]).toBe('aurora-espresso-machine-duo')
        expect(slugs(await search({ q: 'pawsome orthopedic' }))).toContain('pawsome-orthopedic-dog-bed')
      })
    })
  })
}
