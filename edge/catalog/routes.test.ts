import { exports } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type {
  CatalogChanges,
  DropSummary,
  Product,
  ProductListResponse,
  SearchResponse,
} from '../../contracts/index.ts'
import {
  mockCore,
  openRoom,
  roomConfig,
  uniqueSaleId,
  useTestClock,
  type CoreCall,
} from '../../waiting-room/fixtures.ts'
import { POLICIES } from './catalog-data.ts'

const BASE = 'https://shop.test'

// Each test starts an hour after the previous one (fake Date, shared by the worker and the room in this isolate):
// what earlier tests left in this instance's caches (drops, stock) is long stale by then.
let clock: ReturnType<typeof useTestClock>
let hour = 0
beforeEach(() => {
  clock = useTestClock()
  clock.advance(++hour * 3_600_000)
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { headers }))
  const text = await res.text()
  let json: any = null // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text)
  } catch {
    json = null
  }
  return { res, status: res.status, text, json }
}
const getJson = (path: string) => get(path, { accept: 'application/json' })

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`

function product(slug: string, name = 'Sonix <Wireless> "X200" & Co', sku = `${slug.toUpperCase()}-1`): Product {
  return {
    slug,
    name,
    brand: 'Sonix',
    description: 'Forty hours of battery.',
    category: {
      slug: 'headphones',
      name: 'Headphones',
      path: [
        { slug: 'electronics', name: 'Electronics' },
        { slug: 'headphones', name: 'Headphones' },
      ],
    },
    images: [{ url: `/img/p/${slug}/1.svg`, alt: name }],
    attributes: {},
    variants: [
      {
        sku,
        attributes: { color: 'Black' },
        listPriceCents: 24_900,
        salePriceCents: 19_900,
        priceCents: 19_900,
        currency: 'USD',
      },
    ],
    priceCents: 19_900,
    listPriceCents: 24_900,
    currency: 'USD',
    updatedAt: '2026-01-01T00:00:00.000Z',
  }
}

interface FakeCore {
  calls: CoreCall[]
  products: Map<string, Product>
  drops: DropSummary[]
  stock: Map<string, number>
  down: boolean
  feed: { seq: number; tags: Map<string, number> }
  bump(...tags: string[]): void
  count(path: string): number
}

/** Core as the edge sees it, from fixtures; `down` makes every call fail as an unreachable core would. */
function fakeCore(): FakeCore {
  const state: FakeCore = {
    calls: [],
    products: new Map(),
    drops: [],
    stock: new Map(),
    down: false,
    feed: { seq: 0, tags: new Map() },
    bump(...tags) {
      state.feed.seq++
      for (const t of tags) state.feed.tags.set(t, state.feed.seq)
    },
    count: (path) => state.calls.filter((c) => new URL(c.url).pathname === path).length,
  }
  state.calls = mockCore((req) => {
    if (state.down) throw new TypeError('fetch failed: connection refused')
    const url = new URL(req.url)
    const path = url.pathname
    if (path === '/v1/catalog/changes') {
      const after = Number(url.searchParams.get('after'))
      const changes: CatalogChanges = {
        epoch: 'test',
        seq: state.feed.seq,
        floor: 0,
        tags: Object.fromEntries([...state.feed.tags].filter(([, v]) => v > after)),
      }
      return Response.json(changes)
    }
    if (path === '/v1/catalog/drops') return Response.json({ drops: state.drops })
    if (path === '/v1/categories')
      return Response.json({
        categories: [{ slug: 'electronics', name: 'Electronics', productCount: 1, children: [] }],
      })
    if (path === '/v1/catalog/home')
      return Response.json({
        categories: [
          {
            slug: 'electronics',
            name: 'Electronics',
            productCount: 1,
            children: [{ slug: 'headphones', name: 'Headphones', productCount: 1, children: [] }],
          },
        ],
        newArrivals: [],
      })
    if (path.startsWith('/v1/products/')) {
      const p = state.products.get(path.slice('/v1/products/'.length))
      return p
        ? Response.json(p)
        : Response.json({ error: { code: 'product_not_found', message: 'no', field: 'slug' } }, { status: 404 })
    }
    if (path.startsWith('/v1/categories/')) {
      const list: ProductListResponse = {
        category: {
          slug: 'headphones',
          name: 'Headphones <&>',
          path: [{ slug: 'headphones', name: 'Headphones <&>' }],
          children: [],
        },
        products: [...state.products.values()].map((p) => ({
          slug: p.slug,
          name: p.name,
          brand: p.brand,
          category: { slug: 'headphones', name: 'Headphones' },
          priceCents: p.priceCents,
          listPriceCents: p.listPriceCents,
          currency: 'USD',
          image: p.images[0]!,
          sku: p.variants[0]!.sku,
        })),
        total: state.products.size,
        nextCursor: 'abc',
        brands: [{ value: 'Sonix', count: 1 }],
        sort: 'newest',
      }
      return Response.json(list)
    }
    if (path === '/v1/search') {
      const result: SearchResponse = {
        q: url.searchParams.get('q') ?? '',
        hits: [],
        total: 0,
        facets: {
          brand: [{ value: 'Sonix', label: 'Sonix', count: 3, selected: false }],
          category: [],
          price: [{ key: 'under-25', from: null, to: 2500, count: 3, selected: false }],
        },
        didYouMean: 'wireless headphones',
        nextCursor: null,
        sort: 'relevance',
        engine: 'postgres',
      }
      return Response.json(result)
    }
    if (path === '/v1/search/suggest')
      return Response.json({ q: url.searchParams.get('q'), suggestions: [{ text: 'Sonix X200', slug: 'sonix-x200' }] })
    if (path === '/v1/availability') {
      const skus = (url.searchParams.get('skus') ?? '').split(',')
      return Response.json({
        items: skus.map((sku) => ({
          sku,
          state: state.stock.has(sku) ? 'in_stock' : 'unknown_sku',
          available: state.stock.get(sku) ?? null,
        })),
        at: 0,
      })
    }
    return new Response('{}', { status: 404 })
  })
  return state
}

describe('when a shopper opens a product page', () => {
  it('should render it at the edge, escaped, with a CSP by hash and no stock in it', async () => {
    const core = fakeCore()
    const slug = unique('sonix')
    core.products.set(slug, product(slug))

    const { res, status, text } = await get(`/p/${slug}`)

    expect(status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'sha256-[^']+'; style-src 'sha256-[^']+'/)
    expect(res.headers.get('x-floodgate-cache')).toBe('miss')
    expect(text).toContain('Sonix &#60;Wireless&#62; &#34;X200&#34; &#38; Co')
    expect(text).not.toContain('<Wireless>')
    expect(text).toContain('$199.00')
    expect(text).toContain(`data-sku="${slug.toUpperCase()}-1"`)
    // The page says nothing about stock itself: its availability slots are filled by the script, live.
    const rendered = text.slice(text.indexOf('<main'), text.indexOf('<script>'))
    expect(rendered).not.toMatch(/in stock|out of stock|left/i)
    expect(rendered).toContain('data-state="loading">Checking availability…</span>')
    expect(text).toContain('<nav class="crumbs" aria-label="Breadcrumb">')
  })

  it('should answer its data as JSON at the same URL, and link a drop to its waiting page', async () => {
    const core = fakeCore()
    const slug = unique('console')
    const sku = `${slug.toUpperCase()}-1`
    core.products.set(slug, product(slug, 'Demo Console', sku))
    const saleId = uniqueSaleId('drop')
    const startsAt = new Date(Date.now() + 3_600_000).toISOString()
    core.drops = [
      {
        saleId,
        sku,
        startsAt,
        stock: 500,
        url: `/sales/${saleId}`,
        productSlug: slug,
        productName: 'Demo Console',
        priceCents: 49_900,
        currency: 'USD',
        image: null,
      },
    ]

    const page = await get(`/p/${slug}`)
    const data = await getJson(`/p/${slug}`)

    expect(page.text).toContain(`href="/sales/${saleId}"`)
    expect(page.text).toContain('Flash drop')
    expect(data.status).toBe(200)
    expect(data.res.headers.get('content-type')).toContain('application/json')
    expect(data.json.variants[0].drop).toEqual({ saleId, sku, startsAt, stock: 500, url: `/sales/${saleId}` })
  })

  it('should ask core once for a page however many shoppers open it at once, then serve it from cache', async () => {
    const core = fakeCore()
    const slug = unique('busy')
    core.products.set(slug, product(slug))

    const first = await Promise.all(Array.from({ length: 30 }, () => get(`/p/${slug}`)))
    const later = await get(`/p/${slug}`)

    expect(first.every((r) => r.status === 200)).toBe(true)
    expect(core.count(`/v1/products/${slug}`)).toBe(1)
    expect(later.res.headers.get('x-floodgate-cache')).toBe('hit')
  })

  it('should show a new price on the first request after the change reaches the feed', async () => {
    const core = fakeCore()
    const slug = unique('priced')
    core.products.set(slug, product(slug))
    expect((await getJson(`/p/${slug}`)).json.priceCents).toBe(19_900)

    core.products.set(slug, { ...product(slug), priceCents: 14_900 })
    core.bump(`p:${slug}`)
    expect((await getJson(`/p/${slug}`)).json.priceCents).toBe(19_900)
    clock.advance(1_000)

    expect((await getJson(`/p/${slug}`)).json.priceCents).toBe(14_900)
  })

  it('should answer 404 for an unknown product, HTML or JSON', async () => {
    fakeCore()
    const slug = unique('nothing')
    expect((await get(`/p/${slug}`)).status).toBe(404)
    expect((await getJson(`/p/${slug}`)).json.error.code).toBe('product_not_found')
  })
})

describe('when core is down', () => {
  it('should keep answering cached pages with 200 (stale-if-error), and say nothing false about stock', async () => {
    const core = fakeCore()
    const slug = unique('survivor')
    core.products.set(slug, product(slug))
    core.stock.set(`${slug.toUpperCase()}-1`, 7)
    expect((await get(`/p/${slug}`)).status).toBe(200)
    expect((await getJson(`/api/availability?skus=${slug.toUpperCase()}-1`)).json.items[0].state).toBe('in_stock')

    core.down = true
    clock.advance(POLICIES.product.ttlMs + POLICIES.product.swrMs + 1)
    const page = await get(`/p/${slug}`)
    const stock = await getJson(`/api/availability?skus=${slug.toUpperCase()}-1`)

    expect(page.status).toBe(200)
    expect(page.res.headers.get('x-floodgate-cache')).toBe('stale-if-error')
    expect(page.text).toContain('$199.00')
    expect(stock.json.items[0]).toMatchObject({ state: 'unknown', available: null })
  })

  it('should answer 503 for a page it never cached', async () => {
    const core = fakeCore()
    core.down = true
    const page = await get(`/p/${unique('cold')}`)
    expect(page.status).toBe(503)
    expect(page.res.headers.get('retry-after')).toBe('2')
    expect((await getJson(`/p/${unique('cold')}`)).json.error.code).toBe('unavailable')
  })
})

describe('when a shopper asks for availability', () => {
  it('should answer a drop SKU from the room frontier and everyday SKUs from core', async () => {
    const core = fakeCore()
    const saleId = uniqueSaleId('avail')
    await openRoom(saleId, roomConfig(saleId, Date.now() - 10_000), 4)
    const dropSku = `DROP-${saleId.slice(-6).toUpperCase()}`
    core.drops = [
      {
        saleId,
        sku: dropSku,
        startsAt: new Date(Date.now() - 10_000).toISOString(),
        stock: 4,
        url: `/sales/${saleId}`,
        productSlug: 'x',
        productName: 'X',
        priceCents: 1,
        currency: 'USD',
        image: null,
      },
    ]
    core.stock.set('EVERYDAY-1', 40)

    const { status, json } = await getJson(`/api/availability?skus=${dropSku},EVERYDAY-1,NOPE-1`)

    expect(status).toBe(200)
    expect(json.items[0]).toMatchObject({ sku: dropSku, state: 'drop_live', available: 4, saleId })
    expect(json.items[1]).toEqual({ sku: 'EVERYDAY-1', state: 'in_stock', available: 40 })
    expect(json.items[2]).toMatchObject({ sku: 'NOPE-1', state: 'unknown_sku' })
    const asked = core.calls
      .filter((c) => c.url.includes('/v1/availability'))
      .map((c) => new URL(c.url).searchParams.get('skus'))
    expect(asked).toEqual(['EVERYDAY-1,NOPE-1'])
  })

  it('should keep everyday stock about a second: polls within it cost no core call', async () => {
    const core = fakeCore()
    core.stock.set('POLL-1', 3)
    for (let i = 0; i < 10; i++) expect((await getJson('/api/availability?skus=POLL-1')).status).toBe(200)
    expect(core.count('/v1/availability')).toBeLessThanOrEqual(2)
  })
})

describe('when a shopper browses and searches', () => {
  it('should render home, a category and search results, and their JSON', async () => {
    fakeCore()
    const home = await get('/')
    const category = await get('/c/headphones?sort=price_asc')
    const search = await get('/search?q=wirless+headphnes')
    const searchJson = await getJson('/search?q=wirless+headphnes')

    expect(home.status).toBe(200)
    expect(home.text).toContain('href="/c/headphones"')
    expect(category.status).toBe(200)
    expect(category.text).toContain('Headphones &#60;&#38;&#62;')
    expect(category.text).toContain('rel="next"')
    expect(search.status).toBe(200)
    expect(search.text).toContain('Did you mean <a href="/search?q=wireless+headphones">wireless headphones</a>?')
    expect(search.text).toContain('role="search"')
    expect(searchJson.json.didYouMean).toBe('wireless headphones')
    expect((await getJson('/')).json.categories[0].slug).toBe('electronics')
  })

  it('should share one cache entry between equal queries written differently', async () => {
    const core = fakeCore()
    const word = unique('shared').replace('-', '')
    await getJson(`/api/search?q=${word}+Pro&brand=Sonix,Koto`)
    await getJson(`/api/search?brand=Koto,Sonix&q=${word.toUpperCase()}%20%20pro`)
    await getJson(`/api/search?brand=Koto&brand=Sonix&q=${word}+pro&priceMin=&priceMax=`)
    expect(core.count('/v1/search')).toBe(1)
    const asked = new URL(core.calls.find((c) => c.url.includes('/v1/search'))!.url)
    expect(asked.searchParams.get('brand')).toBe('Koto,Sonix')
    expect(asked.searchParams.has('priceMin')).toBe(false)
  })

  it('should answer suggestions for the search box', async () => {
    fakeCore()
    const { status, json } = await getJson('/api/search/suggest?q=son')
    expect(status).toBe(200)
    expect(json.suggestions[0]).toEqual({ text: 'Sonix X200', slug: 'sonix-x200' })
  })

  it('should draw the sample catalog images at the edge', async () => {
    const { res, text } = await get('/img/p/sonix-wireless-headphones/1.svg')
    expect(res.headers.get('content-type')).toContain('image/svg+xml')
    expect(text).toContain('>SW<')
  })
})

describe('when a request is bad', () => {
  it('should answer 4xx naming the field, without asking core', async () => {
    const core = fakeCore()
    const cases: Array<[string, number, string, string]> = [
      ['/p/Bad_Slug', 400, 'invalid_path', 'slug'],
      ['/c/headphones?sort=cheapest', 400, 'invalid_query', 'sort'],
      ['/c/headphones?colour=red', 400, 'invalid_query', 'colour'],
      ['/search?priceMin=abc', 400, 'invalid_query', 'priceMin'],
      ['/search?priceMin=500&priceMax=100', 400, 'invalid_query', 'priceMax'],
      [`/search?q=${'x'.repeat(201)}`, 400, 'invalid_query', 'q'],
      ['/api/search?limit=1000', 400, 'invalid_query', 'limit'],
      ['/api/search/suggest?q=', 400, 'invalid_query', 'q'],
      ['/api/availability', 400, 'invalid_query', 'skus'],
      ['/api/availability?skus=lower-case', 400, 'invalid_query', 'skus.0'],
      ['/api/categories/Bad_Slug/products', 400, 'invalid_path', 'slug'],
      ['/img/p/sonix/evil.png', 400, 'invalid_path', 'file'],
    ]
    for (const [path, status, code, field] of cases) {
      const answer = await get(path)
      expect(answer.status, path).toBe(status)
      expect(answer.json.error, path).toMatchObject({ code, field })
    }
    expect(core.calls).toEqual([])
  })
})
