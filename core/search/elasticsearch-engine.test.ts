/**
 * The Elasticsearch engine, two ways:
 * - against a real server when ES_URL is set (the shared contract suite; no server can be installed on the build
 *   machine, so there it is skipped, as the live Stripe tests are);
 * - always, through the official client wired to @elastic/elasticsearch-mock: the exact requests the engine sends
 *   (index settings, query, post_filter, aggregations, search_after, bulk with external versions, the alias swap)
 *   and how it reads answers and errors. The mock matches requests and returns canned answers; it runs no query.
 */
import { createRequire } from 'node:module'
import { Client } from '@elastic/elasticsearch'
import Mock from '@elastic/elasticsearch-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { SearchQuery, type SearchDocument } from '../../contracts/index.ts'
import { uniqueName } from '../../test/support/services.ts'
import { encodeCursor } from '../catalog/cursor.ts'
import { searchEngineContract } from './engine-contract.ts'
import { ElasticsearchEngine, INDEX_MAPPINGS } from './elasticsearch-engine.ts'
import { engineUnavailable } from './engine.ts'

// The mock builds its answers with the CommonJS build of the client; its error classes are those.
const { errors } = createRequire(import.meta.url)('@elastic/elasticsearch') as typeof import('@elastic/elasticsearch')

searchEngineContract(
  'elasticsearch',
  async () => {
    const engine = new ElasticsearchEngine({
      node: process.env.ES_URL,
      apiKey: process.env.ES_API_KEY,
      alias: uniqueName('fgtest-'),
    })
    return {
      engine,
      settle: () => engine.refresh(),
      destroy: async () => {
        await engine.destroy()
        await engine.close()
      },
    }
  },
  Boolean(process.env.ES_URL),
)

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Params = { method: string; path: string; body?: any; querystring?: Record<string, string> }

let mock: Mock
let calls: Params[]
let engine: ElasticsearchEngine

function on(method: string, path: string, answer: (params: Params) => unknown) {
  mock.add({ method, path }, (pattern) => {
    const params = pattern as unknown as Params
    calls.push(params)
    return answer(params) as ReturnType<Parameters<Mock['add']>[1]>
  })
}

const notFound = () =>
  new errors.ResponseError({
    body: { error: 'not found' },
    statusCode: 404,
    headers: {},
    warnings: [],
    meta: {} as never,
  })

function doc(productId: number, version: number): SearchDocument {
  return {
    productId,
    version,
    active: true,
    slug: `p-${productId}`,
    name: `Product ${productId}`,
    brand: 'Sonix',
    description: '',
    attributes: 'Black',
    categoryId: 3,
    categorySlug: 'headphones',
    categoryName: 'Headphones',
    categorySlugs: ['electronics', 'audio', 'headphones'],
    categoryNames: ['Electronics', 'Audio', 'Headphones'],
    priceCents: 1999,
    listPriceCents: 2999,
    currency: 'USD',
    inStock: true,
    image: null,
    sku: `SKU-${productId}`,
    createdAt: '2026-01-01T00:00:00.000Z',
  }
}

beforeEach(() => {
  mock = new Mock()
  calls = []
  const client = new Client({ node: 'http://es.test:9200', Connection: mock.getConnection(), maxRetries: 2 })
  engine = new ElasticsearchEngine({ client, alias: 'products' })
})

describe('when the index does not exist yet', () => {
  it('should create <alias>_v1 with the autocomplete analyzer, the strict mapping and the alias', async () => {
    on('HEAD', '/_alias/products', notFound)
    on('PUT', '/products_v1', () => ({ acknowledged: true }))

    await engine.ensureReady()

    const create = calls.find((c) => c.method === 'PUT')!
    expect(create.path).toBe('/products_v1')
    expect(create.body.aliases).toEqual({ products: {} })
    expect(create.body.settings.analysis.filter.autocomplete_ngram).toEqual({
      type: 'edge_ngram',
      min_gram: 2,
      max_gram: 15,
    })
    expect(create.body.mappings).toEqual(INDEX_MAPPINGS)
    expect(create.body.mappings.properties.name.fields.autocomplete).toEqual({
      type: 'text',
      analyzer: 'autocomplete',
      search_analyzer: 'folding',
    })
  })

  it('should leave an existing alias alone', async () => {
    on('HEAD', '/_alias/products', () => ({}))
    on('GET', '/_alias/products', () => ({ products_v3: { aliases: { products: {} } } }))

    await engine.ensureReady()

    expect(calls.map((c) => c.method)).toEqual(['HEAD', 'GET'])
  })
})

describe('when searching', () => {
  const answer = {
    took: 3,
    hits: {
      total: { value: 42, relation: 'eq' },
      hits: [1, 2, 3].map((id) => ({
        _id: String(id),
        _score: 2,
        _source: {
          product_id: id,
          slug: `p-${id}`,
          name: `Product ${id}`,
          brand: 'Sonix',
          category_slug: 'headphones',
          category_name: 'Headphones',
          price_cents: 1999,
          list_price_cents: 2999,
          currency: 'USD',
          image: null,
          sku: `SKU-${id}`,
        },
        sort: [2, id],
      })),
    },
    aggregations: {
      brand: {
        doc_count: 50,
        values: {
          buckets: [
            { key: 'Sonix', doc_count: 30 },
            { key: 'Koto', doc_count: 20 },
          ],
        },
      },
      category: {
        doc_count: 42,
        values: {
          buckets: [{ key: 'headphones', doc_count: 42, label: { buckets: [{ key: 'Headphones', doc_count: 42 }] } }],
        },
      },
      price: {
        doc_count: 42,
        values: {
          buckets: [
            { key: 'under-25', doc_count: 40 },
            { key: '25-50', doc_count: 2 },
          ],
        },
      },
    },
    suggest: {
      words: [
        { text: 'sonx', offset: 0, length: 4, options: [{ text: 'sonix', score: 0.8, freq: 30 }] },
        { text: 'wireless', offset: 5, length: 8, options: [] },
      ],
    },
  }

  it('should send fuzzy multi_match, selected facets in post_filter, each facet filtered by the others', async () => {
    on('POST', '/products/_search', () => answer)
    const cursor = encodeCursor('price_asc', [1999, 17])

    await engine.search(
      SearchQuery.parse({
        q: 'Sonx Wireless',
        brand: 'Sonix',
        category: 'audio',
        priceMin: '0',
        priceMax: '2499',
        inStock: 'true',
        sort: 'price_asc',
        cursor,
        limit: '2',
      }),
    )

    const { body } = calls[0]!
    const fuzzy = body.query.bool.must[0].bool.should[0].multi_match
    expect(fuzzy).toMatchObject({ query: 'sonx wireless', fuzziness: 'AUTO', operator: 'and' })
    expect(fuzzy.fields).toContain('name^3')
    expect(body.query.bool.must[0].bool.should[1]).toEqual({
      match: { 'name.autocomplete': { query: 'sonx wireless', operator: 'and' } },
    })
    expect(body.query.bool.should[0].multi_match).toMatchObject({ type: 'phrase', boost: 3 })
    expect(body.query.bool.filter).toEqual([{ term: { active: true } }, { term: { in_stock: true } }])
    const brand = { terms: { brand: ['Sonix'] } }
    const category = { terms: { category_slugs: ['audio'] } }
    const price = { range: { price_cents: { gte: 0, lte: 2499 } } }
    expect(body.post_filter).toEqual({ bool: { filter: [brand, category, price] } })
    expect(body.aggs.brand.filter).toEqual({ bool: { filter: [category, price] } })
    expect(body.aggs.category.filter).toEqual({ bool: { filter: [brand, price] } })
    expect(body.aggs.price.filter).toEqual({ bool: { filter: [brand, category] } })
    expect(body.aggs.price.aggs.values.range.ranges[0]).toEqual({ key: 'under-25', to: 2500 })
    expect(body.aggs.price.aggs.values.range.ranges.at(-1)).toEqual({ key: '1000-up', from: 100_000 })
    expect(body.sort).toEqual([{ price_cents: 'asc' }, { product_id: 'asc' }])
    expect(body.search_after).toEqual([1999, 17])
    expect(body.size).toBe(3)
    expect(body.track_total_hits).toBe(true)
    expect(body.suggest.words.term).toMatchObject({ field: 'name.plain', suggest_mode: 'missing' })
  })

  it('should read hits, total, facets, "did you mean" and a search_after cursor from the answer', async () => {
    on('POST', '/products/_search', () => answer)

    const result = await engine.search(SearchQuery.parse({ q: 'sonx wireless', brand: 'Sonix', limit: '2' }))

    expect(result.engine).toBe('elasticsearch')
    expect(result.total).toBe(42)
    expect(result.hits.map((h) => h.slug)).toEqual(['p-1', 'p-2'])
    expect(result.hits[0]).toEqual({
      slug: 'p-1',
      name: 'Product 1',
      brand: 'Sonix',
      category: { slug: 'headphones', name: 'Headphones' },
      priceCents: 1999,
      listPriceCents: 2999,
      currency: 'USD',
      image: null,
      sku: 'SKU-1',
    })
    expect(result.facets.brand).toEqual([
      { value: 'Sonix', label: 'Sonix', count: 30, selected: true },
      { value: 'Koto', label: 'Koto', count: 20, selected: false },
    ])
    expect(result.facets.category).toEqual([{ value: 'headphones', label: 'Headphones', count: 42, selected: false }])
    expect(result.facets.price.map((p) => p.count)).toEqual([40, 2, 0, 0, 0, 0, 0])
    expect(result.didYouMean).toBe('sonix wireless')
    expect(result.nextCursor).toBe(encodeCursor('relevance', [2, 2]))
  })

  it('should browse without words: match_all, newest first, no suggester', async () => {
    on('POST', '/products/_search', () => ({ ...answer, suggest: undefined }))

    const result = await engine.search(SearchQuery.parse({}))

    expect(calls[0]!.body.query.bool.must).toEqual([{ match_all: {} }])
    expect(calls[0]!.body.sort).toEqual([{ product_id: 'desc' }])
    expect(calls[0]!.body.suggest).toBeUndefined()
    expect(result.didYouMean).toBeNull()
  })

  it('should ask the autocomplete field for suggestions', async () => {
    on('POST', '/products/_search', () => ({
      hits: { total: { value: 1 }, hits: [{ _source: { name: 'Sonix X200', slug: 'sonix-x200' } }] },
    }))

    expect(await engine.suggest('Soni', 5)).toEqual({
      q: 'Soni',
      suggestions: [{ text: 'Sonix X200', slug: 'sonix-x200' }],
    })
    expect(calls[0]!.body).toMatchObject({
      size: 5,
      query: { bool: { must: [{ match: { 'name.autocomplete': { query: 'soni', operator: 'and' } } }] } },
    })
  })

  it('should report 5xx answers (after the client retried) and lost connections as "unavailable"', async () => {
    on(
      'POST',
      '/products/_search',
      () =>
        new errors.ResponseError({
          body: { error: 'busy' },
          statusCode: 503,
          headers: {},
          warnings: [],
          meta: {} as never,
        }),
    )

    const error = await engine.search(SearchQuery.parse({ q: 'x' })).catch((e: unknown) => e)

    expect(engineUnavailable(error)).toBe(true)
    expect(calls).toHaveLength(3)
    mock.clearAll()
    on('POST', '/products/_search', () => new errors.ConnectionError('connect ECONNREFUSED'))
    expect(engineUnavailable(await engine.search(SearchQuery.parse({ q: 'x' })).catch((e: unknown) => e))).toBe(true)
    expect(engineUnavailable(new Error('a bug'))).toBe(false)
  })
})

describe('when writing documents', () => {
  it('should bulk-index with the product version as an external version, counting refused older versions', async () => {
    on('POST', '/_bulk', () => ({
      errors: true,
      items: [
        { index: { _id: '1', status: 201 } },
        {
          index: {
            _id: '2',
            status: 409,
            error: { type: 'version_conflict_engine_exception', reason: 'version conflict' },
          },
        },
      ],
    }))

    expect(await engine.upsert([doc(1, 4), doc(2, 2)])).toEqual({ applied: 1, stale: 1 })

    const ops = calls[0]!.body as Array<Record<string, any>> // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(ops[0]).toEqual({ index: { _index: 'products', _id: '1', version: 4, version_type: 'external' } })
    expect(ops[1]).toMatchObject({
      product_id: 1,
      version: 4,
      category_slugs: ['electronics', 'audio', 'headphones'],
      category_names: 'Electronics Audio Headphones',
    })
    expect(ops[2]).toEqual({ index: { _index: 'products', _id: '2', version: 2, version_type: 'external' } })
  })

  it('should fail the batch on any other item error, so the outbox keeps it', async () => {
    on('POST', '/_bulk', () => ({
      errors: true,
      items: [{ index: { _id: '1', status: 400, error: { type: 'mapper_parsing_exception', reason: 'bad field' } } }],
    }))

    await expect(engine.upsert([doc(1, 1)])).rejects.toThrow(/mapper_parsing_exception/)
  })
})

describe('when reindexing', () => {
  async function* batches() {
    yield [doc(1, 1), doc(2, 1)]
    yield [doc(3, 1)]
  }

  it('should build <alias>_v<N+1>, fill it, then swap the alias in one call and drop the old index', async () => {
    on('HEAD', '/_alias/products', () => ({}))
    on('GET', '/_alias/products', () => ({ products_v4: { aliases: { products: {} } } }))
    on('PUT', '/products_v5', () => ({ acknowledged: true }))
    on('POST', '/_bulk', (p) => ({
      errors: false,
      items: (p.body as unknown[])
        .filter((_, i) => i % 2 === 0)
        .map((_, i) => ({ index: { _id: String(i), status: 201 } })),
    }))
    on('GET', '/products_v5/_refresh', () => ({ _shards: {} }))
    on('POST', '/_aliases', () => ({ acknowledged: true }))
    on('DELETE', '/products_v4', () => ({ acknowledged: true }))

    const report = await engine.reindex(batches())

    expect(report).toEqual({ index: 'products_v5', documents: 3 })
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'HEAD /_alias/products',
      'GET /_alias/products',
      'PUT /products_v5',
      'POST /_bulk',
      'POST /_bulk',
      'GET /products_v5/_refresh',
      'POST /_aliases',
      'DELETE /products_v4',
    ])
    expect(calls.find((c) => c.path === '/products_v5')!.body.aliases).toBeUndefined()
    expect(
      (calls.find((c) => c.path === '/_bulk')!.body as Array<{ index?: { _index: string } }>)[0]!.index!._index,
    ).toBe('products_v5')
    expect(calls.find((c) => c.path === '/_aliases')!.body).toEqual({
      actions: [
        { remove: { index: 'products_v4', alias: 'products' } },
        { add: { index: 'products_v5', alias: 'products' } },
      ],
    })
  })

  it('should drop the half-built index and leave the alias where it was when filling fails', async () => {
    on('HEAD', '/_alias/products', () => ({}))
    on('GET', '/_alias/products', () => ({ products_v1: { aliases: { products: {} } } }))
    on('PUT', '/products_v2', () => ({ acknowledged: true }))
    on(
      'POST',
      '/_bulk',
      () =>
        new errors.ResponseError({
          body: { error: 'disk full' },
          statusCode: 507,
          headers: {},
          warnings: [],
          meta: {} as never,
        }),
    )
    on('DELETE', '/products_v2', () => ({ acknowledged: true }))

    await expect(engine.reindex(batches())).rejects.toThrow()

    expect(calls.some((c) => c.path === '/_aliases')).toBe(false)
    expect(calls.at(-1)).toMatchObject({ method: 'DELETE', path: '/products_v2' })
  })
})
