import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProductListResponse } from '../../contracts/index.ts'
import { createTestSale, startTestCore, type TestCore } from '../../test/support/core.ts'
import { FEED_TAGS_PER_ANSWER } from './catalog-scripts.ts'
import {
  adminCall,
  call,
  catalogSnapshot,
  drainSearch,
  expectError,
  FIXTURE,
  importLines,
  type Answer,
} from './fixtures.ts'

let core: TestCore

beforeAll(async () => {
  // The drain job's timer stays out of the way: tests drain when they mean to.
  core = await startTestCore({ SEARCH_SYNC_INTERVAL_MS: '3600000' })
  await importLines(core, FIXTURE)
  await drainSearch(core)
})
afterAll(async () => {
  await core?.destroy()
})

const snapshot = () => catalogSnapshot(core.db, core.redis, core.prefix)

describe('when a shopper browses the catalog', () => {
  it('should answer the category tree with product counts that include subcategories', async () => {
    const { status, json } = await call(core, 'GET', '/v1/categories')

    expect(status).toBe(200)
    expect(json.categories.map((c: { slug: string }) => c.slug)).toEqual(['electronics', 'kitchen'])
    const electronics = json.categories[0]
    expect(electronics.productCount).toBe(5)
    expect(electronics.children.map((c: { slug: string; productCount: number }) => [c.slug, c.productCount])).toEqual([
      ['audio', 4],
      ['consoles', 1],
    ])
    expect(electronics.children[0].children[0]).toEqual({
      slug: 'headphones',
      name: 'Headphones',
      productCount: 3,
      children: [],
    })
  })

  it('should answer a product with its variants, prices and category path, and no stock', async () => {
    const { status, json } = await call(core, 'GET', '/v1/products/sonix-wireless-headphones')

    expect(status).toBe(200)
    expect(json).toMatchObject({
      slug: 'sonix-wireless-headphones',
      brand: 'Sonix',
      priceCents: 19900,
      listPriceCents: 24900,
      currency: 'USD',
      category: { slug: 'headphones', path: [{ slug: 'electronics' }, { slug: 'audio' }, { slug: 'headphones' }] },
      variants: [
        {
          sku: 'SONIX-BLK',
          attributes: { color: 'Black' },
          listPriceCents: 24900,
          salePriceCents: 19900,
          priceCents: 19900,
        },
        {
          sku: 'SONIX-WHT',
          attributes: { color: 'White' },
          listPriceCents: 24900,
          salePriceCents: null,
          priceCents: 24900,
        },
      ],
    })
    expect(JSON.stringify(json)).not.toMatch(/stock/i)
  })

  it('should answer 404 for an unknown product (product_not_found) or category (category_not_found)', async () => {
    expectError(await call(core, 'GET', '/v1/products/no-such-thing'), 404, 'product_not_found', 'slug')
    expectError(await call(core, 'GET', '/v1/categories/no-such-thing/products'), 404, 'category_not_found', 'slug')
  })

  it('should list a category with everything below it, and its brands', async () => {
    const { status, json } = await call(core, 'GET', '/v1/categories/electronics/products?sort=price_asc')

    expect(status).toBe(200)
    const list = json as ProductListResponse
    expect(list.products.map((p) => p.slug)).toEqual([
      'koto-sport-headphones',
      'bassline-party-speaker',
      'sonix-wireless-headphones',
      'auralis-studio-headphones',
      'floodgate-demo-console',
    ])
    expect(list.total).toBe(5)
    expect(list.category.children).toEqual([
      { slug: 'audio', name: 'Audio' },
      { slug: 'consoles', name: 'Consoles' },
    ])
    expect(list.brands.map((b) => b.value).sort()).toEqual(['Auralis', 'Bassline', 'Floodgate', 'Koto', 'Sonix'])
    expect(list.products[0]).toEqual({
      slug: 'koto-sport-headphones',
      name: 'Koto Sport Headphones',
      brand: 'Koto',
      category: { slug: 'headphones', name: 'Headphones' },
      priceCents: 5900,
      listPriceCents: 5900,
      currency: 'USD',
      image: null,
      sku: 'KOTO-SPORT',
    })
  })

  it('should answer the home page data: departments two levels deep and the newest products', async () => {
    const { status, json } = await call(core, 'GET', '/v1/catalog/home')

    expect(status).toBe(200)
    expect(json.categories.map((c: { slug: string }) => c.slug)).toEqual(['electronics', 'kitchen'])
    expect(json.categories[0].children[0].children).toEqual([])
    expect(json.newArrivals[0].slug).toBe('caffe-rossi-espresso-machine')
    expect(json.newArrivals).toHaveLength(7)
  })
  it('should page through every filter and sort as one ordered query would: no row twice or missing', async () => {
    // Ties in every sort key, so the keyset conditions must get equal keys right.
    const ties = Array.from({ length: 17 }, (_, i) => ({
      type: 'product' as const,
      slug: `tie-${i}`,
      name: `Tie ${'ABC'[i % 3]}`,
      brand: ['Sonix', 'Koto', 'Other'][i % 3]!,
      category: 'ties',
      variants: [{ sku: `TIE-${i}`, listPriceCents: [10_000, 20_000][i % 2]!, stock: i % 4 }],
    }))
    await importLines(core, [{ type: 'category', slug: 'ties', name: 'Ties', parent: 'kitchen', position: 9 }, ...ties])
    const orders: Record<string, string> = {
      newest: 'p.id DESC',
      price_asc: 'p.price_cents, p.id',
      price_desc: 'p.price_cents DESC, p.id',
      name: 'p.name, p.id',
    }
    const filters: Array<{ query: string; where: string }> = [
      { query: '', where: 'true' },
      { query: '&inStock=true', where: 'p.in_stock' },
      { query: '&brand=Sonix,Koto', where: `p.brand IN ('Sonix', 'Koto')` },
      { query: '&priceMin=5000&priceMax=30000', where: 'p.price_cents BETWEEN 5000 AND 30000' },
    ]
    for (const category of ['electronics', 'audio', 'ties', 'kitchen']) {
      for (const [sort, order] of Object.entries(orders)) {
        for (const filter of filters) {
          const seen: string[] = []
          let cursor: string | null = null
          do {
            const page: Answer = await call(
              core,
              'GET',
              `/v1/categories/${category}/products?sort=${sort}&limit=2${filter.query}` +
                (cursor ? `&cursor=${cursor}` : ''),
            )
            expect(page.status).toBe(200)
            seen.push(...page.json.products.map((p: { slug: string }) => p.slug))
            cursor = page.json.nextCursor
          } while (cursor)
          const { rows } = await core.db.query<{ slug: string }>(
            `WITH RECURSIVE sub AS (SELECT id FROM catalog_categories WHERE slug = $1
                                   UNION ALL SELECT c.id FROM catalog_categories c JOIN sub ON c.parent_id = sub.id)
             SELECT p.slug FROM catalog_products p WHERE p.status = 'active' AND p.category_id IN (SELECT id FROM sub)
               AND ${filter.where} ORDER BY ${order}`,
            [category],
          )
          expect(seen, `${category} ${sort}${filter.query}`).toEqual(rows.map((r) => r.slug))
        }
      }
    }
  })
})

describe('when a shopper asks for availability', () => {
  it('should answer each SKU from the Redis copy: in stock, low, out, unknown', async () => {
    const { status, json } = await call(core, 'GET', '/v1/availability?skus=SONIX-BLK,AURALIS-STUDIO,SONIX-WHT,NOPE-1')

    expect(status).toBe(200)
    expect(json.items).toEqual([
      { sku: 'SONIX-BLK', state: 'in_stock', available: 12 },
      { sku: 'AURALIS-STUDIO', state: 'low_stock', available: 3 },
      { sku: 'SONIX-WHT', state: 'out_of_stock', available: 0 },
      { sku: 'NOPE-1', state: 'unknown_sku', available: null },
    ])
  })

  it('should refill a copy Redis lost from Postgres, and follow stock changes', async () => {
    await core.redis.hdel(core.storefront.catalog.scripts.keys.stock, 'BASSLINE-PARTY')
    expect((await call(core, 'GET', '/v1/availability?skus=BASSLINE-PARTY')).json.items[0]).toEqual({
      sku: 'BASSLINE-PARTY',
      state: 'in_stock',
      available: 40,
    })
    expect(await core.redis.hget(core.storefront.catalog.scripts.keys.stock, 'BASSLINE-PARTY')).toMatch(/^\d+:40$/)

    const set = await adminCall(core, 'PUT', '/admin/catalog/variants/BASSLINE-PARTY/stock', { quantity: 4 })
    expect(set.status).toBe(200)
    expect((await call(core, 'GET', '/v1/availability?skus=BASSLINE-PARTY')).json.items[0]).toEqual({
      sku: 'BASSLINE-PARTY',
      state: 'low_stock',
      available: 4,
    })
  })

  it('should keep a newer copy when an older version arrives late', async () => {
    const scripts = core.storefront.catalog.scripts
    const [current] = await scripts.readStock(['BASSLINE-PARTY'])
    expect(await scripts.setStock([{ sku: 'BASSLINE-PARTY', quantity: 99, version: current!.version - 1 }])).toBe(0)
    expect((await scripts.readStock(['BASSLINE-PARTY']))[0]).toEqual(current)
  })
})

describe('when an operator changes a price', () => {
  it('should bump the version, queue the search document, mark its edge tags changed, reach search', async () => {
    const before = await core.storefront.catalog.changes(0)
    const product = await adminCall(core, 'GET', '/admin/catalog/products/auralis-studio-headphones')

    const res = await adminCall(core, 'PUT', '/admin/catalog/variants/AURALIS-STUDIO/price', {
      listPriceCents: 39900,
      salePriceCents: 29900,
    })

    expect(res.status).toBe(200)
    const after = await adminCall(core, 'GET', '/admin/catalog/products/auralis-studio-headphones')
    expect(after.json.version).toBe(product.json.version + 1)
    expect(after.json.priceCents).toBe(29900)
    const outbox = await core.db.query('SELECT count(*)::int AS n FROM catalog_outbox')
    expect(outbox.rows[0].n).toBeGreaterThan(0)
    const changes = await core.storefront.catalog.changes(before.seq)
    expect(changes.seq).toBe(before.seq + 1)
    expect(Object.keys(changes.tags).sort()).toEqual([
      'c:audio',
      'c:electronics',
      'c:headphones',
      'home',
      'p:auralis-studio-headphones',
      'search',
      'tree',
    ])
    expect(Object.values(changes.tags)).toEqual(Array(7).fill(changes.seq))

    await drainSearch(core)
    const search = await call(core, 'GET', '/v1/search?q=auralis')
    expect(search.json.hits[0]).toMatchObject({
      slug: 'auralis-studio-headphones',
      priceCents: 29900,
      listPriceCents: 39900,
    })
  })

  it('should let a re-run of the same import change nothing', async () => {
    // The two products the operator changed since the import no longer match the file: leave them out.
    const changed = ['auralis-studio-headphones', 'bassline-party-speaker']
    const items = FIXTURE.filter((l) => !changed.includes(l.slug)).map((item, i) => ({ line: i + 1, item }))
    const before = await snapshot()

    const res = await adminCall(core, 'POST', '/admin/catalog/import', { items })

    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ created: 0, updated: 0, errors: 0, unchanged: items.length })
    expect(await snapshot()).toEqual(before)
  })
})

describe('when a sale is created on a catalog variant', () => {
  it('should link the sale to the variant and list it as the product drop', async () => {
    await createTestSale(core, 'drop-console', 10, {
      sku: 'FG-CONSOLE-1',
      startsAt: new Date(Date.now() + 60_000).toISOString(),
    })
    await createTestSale(core, 'drop-elsewhere', 10, { sku: 'NOT-IN-CATALOG' })

    const { status, json } = await call(core, 'GET', '/v1/catalog/drops')

    expect(status).toBe(200)
    expect(json.drops).toEqual([
      expect.objectContaining({
        saleId: 'drop-console',
        sku: 'FG-CONSOLE-1',
        productSlug: 'floodgate-demo-console',
        stock: 10,
        url: '/sales/drop-console',
        priceCents: 4999,
      }),
    ])
    const { rows } = await core.db.query('SELECT id, variant_id FROM sales ORDER BY id')
    expect(rows.find((r) => r.id === 'drop-elsewhere')!.variant_id).toBeNull()
    expect(rows.find((r) => r.id === 'drop-console')!.variant_id).not.toBeNull()
  })
})

describe('when importing a file with bad lines', () => {
  it('should name the line and field of each bad line, skip it whole, and write the good ones', async () => {
    const before = await core.db.query('SELECT count(*)::int AS n FROM catalog_variants')
    const good = (slug: string, sku: string) => ({
      type: 'product',
      slug,
      name: `Good ${slug}`,
      brand: 'Goodco',
      category: 'kitchen',
      variants: [{ sku, listPriceCents: 1000 }],
    })
    const items = [
      { line: 10, item: good('good-one', 'GOOD-1') },
      { line: 11, item: { ...good('bad-price', 'BAD-PRICE'), variants: [{ sku: 'BAD-PRICE', listPriceCents: -5 }] } },
      { line: 12, item: { ...good('bad-category', 'BAD-CAT'), category: 'no-such-category' } },
      { line: 13, item: { ...good('steals-sku', 'SONIX-BLK') } },
      { line: 14, item: { type: 'widget', slug: 'x' } },
      { line: 15, item: [1, 2] },
      { line: 16, item: good('good-one', 'GOOD-1B') },
      {
        line: 17,
        item: {
          ...good('two-skus', 'TWO-1'),
          variants: [
            { sku: 'TWO-1', listPriceCents: 100 },
            { sku: 'TWO-1', listPriceCents: 200 },
          ],
        },
      },
      { line: 18, item: { type: 'category', slug: 'orphan', name: 'Orphan', parent: 'missing-parent' } },
      {
        line: 19,
        item: {
          ...good('sale-above-list', 'SAL-1'),
          variants: [{ sku: 'SAL-1', listPriceCents: 100, salePriceCents: 200 }],
        },
      },
      { line: 20, item: { type: 'category', slug: 'fresh', name: 'Fresh', parent: 'kitchen' } },
      { line: 21, item: { ...good('in-fresh', 'FRESH-1'), category: 'fresh' } },
    ]

    const res = await adminCall(core, 'POST', '/admin/catalog/import', { items })

    expect(res.status).toBe(200)
    const byLine = Object.fromEntries(res.json.results.map((r: { line: number }) => [r.line, r]))
    expect(byLine[10]).toEqual({ line: 10, outcome: 'created', slug: 'good-one' })
    expect(byLine[11].error).toMatchObject({ field: 'variants.0.listPriceCents' })
    expect(byLine[12].error).toMatchObject({ code: 'category_not_found', field: 'category' })
    expect(byLine[13].error).toMatchObject({ code: 'catalog_conflict', field: 'variants.0.sku' })
    expect(byLine[13].error.message).toContain('sonix-wireless-headphones')
    expect(byLine[14].error).toMatchObject({ field: 'type' })
    expect(byLine[15].error).toMatchObject({ field: '' })
    expect(byLine[16].error).toMatchObject({ code: 'catalog_conflict', field: 'slug' })
    expect(byLine[17].error).toMatchObject({ field: 'variants.1.sku' })
    expect(byLine[18].error).toMatchObject({ code: 'category_not_found', field: 'parent' })
    expect(byLine[19].error).toMatchObject({ field: 'variants.0.salePriceCents' })
    expect(byLine[20]).toMatchObject({ outcome: 'created', slug: 'fresh' })
    expect(byLine[21]).toMatchObject({ outcome: 'created', slug: 'in-fresh' })
    expect(res.json).toMatchObject({ created: 3, errors: 9 })
    // Nothing of a bad line was written: only the good products' variants are new.
    const after = await core.db.query('SELECT count(*)::int AS n FROM catalog_variants')
    expect(after.rows[0].n).toBe(before.rows[0].n + 2)
    const sonix = await call(core, 'GET', '/v1/products/sonix-wireless-headphones')
    expect(sonix.json.variants.map((v: { sku: string }) => v.sku)).toEqual(['SONIX-BLK', 'SONIX-WHT'])
  })
})

describe('when an operator archives a product', () => {
  it('should take it off pages, lists, search and availability', async () => {
    expect((await adminCall(core, 'POST', '/admin/catalog/products/koto-sport-headphones/archive')).status).toBe(200)
    await drainSearch(core)

    expectError(await call(core, 'GET', '/v1/products/koto-sport-headphones'), 404, 'product_not_found')
    const list = await call(core, 'GET', '/v1/categories/headphones/products')
    expect(list.json.products.map((p: { slug: string }) => p.slug)).not.toContain('koto-sport-headphones')
    const search = await call(core, 'GET', '/v1/search?q=koto+sport+headphones')
    expect(search.json.hits.map((h: { slug: string }) => h.slug)).not.toContain('koto-sport-headphones')
    expect((await call(core, 'GET', '/v1/availability?skus=KOTO-SPORT')).json.items[0].state).toBe('unknown_sku')
    expect((await adminCall(core, 'GET', '/admin/catalog/products/koto-sport-headphones')).json.status).toBe('archived')

    // Putting it back restores it.
    const koto = FIXTURE.find((l) => l.slug === 'koto-sport-headphones')!
    const { type: _t, slug: _s, ...body } = koto
    expect((await adminCall(core, 'PUT', '/admin/catalog/products/koto-sport-headphones', body)).status).toBe(200)
    expect((await call(core, 'GET', '/v1/products/koto-sport-headphones')).status).toBe(200)
  })
})

describe('when the change feed has more changes than one answer lists', () => {
  it('should tell the edge to treat every tag as changed', async () => {
    const scripts = core.storefront.catalog.scripts
    const start = (await scripts.readChanges(0)).seq
    await scripts.bumpTags(Array.from({ length: FEED_TAGS_PER_ANSWER + 1 }, (_, i) => `p:bulk-${i}`))

    const changes = await scripts.readChanges(start)
    expect(changes.tags).toEqual({})
    expect(changes.floor).toBe(changes.seq)
  })
})

describe('when a request is bad', () => {
  it('should answer 4xx naming the field, and change nothing', async () => {
    const otherSortCursor = Buffer.from('{"s":"newest","k":[1]}').toString('base64url')
    // Earlier tests' writes settle first (the drain job would otherwise finish them during this test).
    await drainSearch(core)
    const before = await snapshot()
    const product = { name: 'P', brand: 'B', category: 'kitchen', variants: [{ sku: 'P-1', listPriceCents: 100 }] }
    const cases: Array<[Answer, number, string, string | undefined]> = [
      [await call(core, 'GET', '/v1/products/Bad_Slug'), 400, 'invalid_path', 'slug'],
      [await call(core, 'GET', '/v1/categories/electronics/products?sort=cheapest'), 400, 'invalid_query', 'sort'],
      [await call(core, 'GET', '/v1/categories/electronics/products?limit=0'), 400, 'invalid_query', 'limit'],
      [
        await call(core, 'GET', '/v1/categories/electronics/products?priceMin=500&priceMax=100'),
        400,
        'invalid_query',
        'priceMax',
      ],
      [await call(core, 'GET', '/v1/categories/electronics/products?inStock=yes'), 400, 'invalid_query', 'inStock'],
      [await call(core, 'GET', '/v1/categories/electronics/products?colour=red'), 400, 'invalid_query', 'colour'],
      [await call(core, 'GET', '/v1/categories/electronics/products?cursor=garbage'), 400, 'invalid_query', 'cursor'],
      [
        await call(core, 'GET', `/v1/categories/electronics/products?sort=name&cursor=${otherSortCursor}`),
        400,
        'invalid_query',
        'cursor',
      ],
      [await call(core, 'GET', '/v1/availability'), 400, 'invalid_query', 'skus'],
      [await call(core, 'GET', '/v1/availability?skus=bad%20sku'), 400, 'invalid_query', 'skus.0'],
      [
        await call(core, 'GET', `/v1/availability?skus=${Array.from({ length: 51 }, (_, i) => `S-${i}`).join(',')}`),
        400,
        'invalid_query',
        'skus',
      ],
      [await call(core, 'GET', '/v1/catalog/changes?after=-1'), 400, 'invalid_query', 'after'],
      [await call(core, 'GET', '/v1/search?sort=best'), 400, 'invalid_query', 'sort'],
      [await call(core, 'GET', '/v1/search?limit=0'), 400, 'invalid_query', 'limit'],
      [await call(core, 'GET', '/v1/search?priceMin=900&priceMax=100'), 400, 'invalid_query', 'priceMax'],
      [await call(core, 'GET', '/v1/search?category=Not_A_Slug'), 400, 'invalid_query', 'category.0'],
      [await call(core, 'GET', '/v1/search?inStock=maybe'), 400, 'invalid_query', 'inStock'],
      [await call(core, 'GET', '/v1/search?q=x&cursor=junk'), 400, 'invalid_query', 'cursor'],
      [await call(core, 'GET', `/v1/search?q=${'x'.repeat(201)}`), 400, 'invalid_query', 'q'],
      [await call(core, 'GET', '/v1/search?page=2'), 400, 'invalid_query', 'page'],
      [await call(core, 'GET', '/v1/search/suggest'), 400, 'invalid_query', 'q'],
      [await call(core, 'GET', '/v1/search/suggest?q=x&limit=11'), 400, 'invalid_query', 'limit'],
      [await call(core, 'POST', '/admin/search/reindex'), 401, 'unauthorized', undefined],
      [await call(core, 'POST', '/admin/catalog/import', { items: [] }), 401, 'unauthorized', undefined],
      [await call(core, 'PUT', '/admin/catalog/products/p-new', product), 401, 'unauthorized', undefined],
      [await adminCall(core, 'PUT', '/admin/catalog/products/p-new', '{"name":'), 400, 'invalid_json', undefined],
      [
        await adminCall(core, 'PUT', '/admin/catalog/products/p-new', product, { 'content-type': 'text/plain' }),
        415,
        'unsupported_media_type',
        'content-type',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/products/p-new', { ...product, variants: [] }),
        400,
        'invalid_body',
        'variants',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/products/p-new', { ...product, extra: 1 }),
        400,
        'invalid_body',
        undefined,
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/products/p-new', {
          ...product,
          images: [{ url: 'javascript:alert(1)' }],
        }),
        400,
        'invalid_body',
        'images.0.url',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/products/p-new', { ...product, category: 'nowhere' }),
        404,
        'category_not_found',
        'category',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/products/p-new', {
          ...product,
          variants: [{ sku: 'SONIX-BLK', listPriceCents: 1 }],
        }),
        409,
        'catalog_conflict',
        'variants.0.sku',
      ],
      [await adminCall(core, 'PUT', '/admin/catalog/products/BAD', product), 400, 'invalid_path', 'slug'],
      [
        await adminCall(core, 'PATCH', '/admin/catalog/products/sonix-wireless-headphones', {}),
        400,
        'invalid_body',
        undefined,
      ],
      [
        await adminCall(core, 'PATCH', '/admin/catalog/products/sonix-wireless-headphones', { name: '' }),
        400,
        'invalid_body',
        'name',
      ],
      [
        await adminCall(core, 'PATCH', '/admin/catalog/products/sonix-wireless-headphones', { category: 'nowhere' }),
        404,
        'category_not_found',
        'category',
      ],
      [
        await adminCall(core, 'PATCH', '/admin/catalog/products/no-such-product', { name: 'X' }),
        404,
        'product_not_found',
        'slug',
      ],
      [
        await adminCall(core, 'POST', '/admin/catalog/products/no-such-product/archive'),
        404,
        'product_not_found',
        'slug',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/variants/SONIX-BLK/price', {
          listPriceCents: 100,
          salePriceCents: 200,
        }),
        400,
        'invalid_body',
        'salePriceCents',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/variants/SONIX-BLK/price', { listPriceCents: 1.5 }),
        400,
        'invalid_body',
        'listPriceCents',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/variants/NO-SUCH/price', { listPriceCents: 100 }),
        404,
        'variant_not_found',
        'sku',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/variants/bad%20sku/price', { listPriceCents: 100 }),
        400,
        'invalid_path',
        'sku',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/variants/SONIX-BLK/stock', { quantity: -1 }),
        400,
        'invalid_body',
        'quantity',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/variants/NO-SUCH/stock', { quantity: 1 }),
        404,
        'variant_not_found',
        'sku',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/categories/new-cat', { name: 'New', parent: 'nowhere' }),
        404,
        'category_not_found',
        'parent',
      ],
      [
        await adminCall(core, 'PUT', '/admin/catalog/categories/electronics', {
          name: 'Electronics',
          parent: 'headphones',
        }),
        409,
        'catalog_conflict',
        'parent',
      ],
      [await adminCall(core, 'PUT', '/admin/catalog/categories/new-cat', { name: '' }), 400, 'invalid_body', 'name'],
      [await adminCall(core, 'POST', '/admin/catalog/import', { items: [] }), 400, 'invalid_body', 'items'],
      [
        await adminCall(core, 'POST', '/admin/catalog/import', { items: [{ line: 0, item: {} }] }),
        400,
        'invalid_body',
        'items.0.line',
      ],
      [
        await adminCall(core, 'POST', '/admin/catalog/import', {
          items: Array.from({ length: 501 }, (_, i) => ({ line: i + 1, item: {} })),
        }),
        400,
        'invalid_body',
        'items',
      ],
    ]
    for (const [answer, status, code, field] of cases) expectError(answer, status, code, field)
    expect(await snapshot()).toEqual(before)
  })
})
