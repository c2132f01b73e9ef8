/**
 * The storefront at the edge.
 *   pages (HTML; with `Accept: application/json`, the page's data as JSON):  GET /, /c/:slug, /p/:slug, /search
 *   API:  GET /api/categories, /api/categories/:slug/products, /api/products/:slug, /api/availability?skus=,
 *         /api/search, /api/search/suggest?q=
 *   images:  GET /img/p/:slug/:n.svg
 * Everything but availability comes from core through the page cache (catalog-data.ts, page-cache.ts): with core
 * down, what was cached keeps answering 200 (`x-floodgate-cache: stale-if-error`). Queries are validated with
 * the shared schemas before any cache or core lookup (a bad one is a 400 naming the field) and put in one
 * canonical form, so equal queries share one cache entry.
 */
import { Hono, type Context } from 'hono'
import type { z } from 'zod'
import {
  AvailabilityQuery,
  CATALOG_TAGS,
  ProductListQuery,
  SearchQuery,
  Slug,
  SuggestQuery,
  queryObject,
  queryProblem,
  type CategoriesResponse,
  type CategoryNode,
  type DropSummary,
  type HomeResponse,
  type Product,
  type ProductListResponse,
  type SearchResponse,
  type SuggestResponse,
} from '../../contracts/index.ts'
import type { AppEnv } from '../env.ts'
import { apiError, errorResponse } from '../http-error.ts'
import { pathParams } from '../middleware/path-params/index.ts'
import { availability } from './availability.ts'
import { CoreRefusedError, edgeCatalog, type EdgeCatalog, type Fetched } from './catalog-data.ts'
import { imageResponse } from './images.ts'
import { CoreUnavailableError, type CacheOutcome, type Waiter } from './page-cache.ts'
import { categoryPage, homePage, htmlResponse, messagePage, productPage, searchPage } from './pages.ts'

export const HEADER_CACHE = 'x-floodgate-cache'

type Ctx = Context<AppEnv>

function waiter(c: Ctx): Waiter | undefined {
  try {
    return c.executionCtx
  } catch {
    return undefined
  }
}

function wantsJson(c: Ctx): boolean {
  const accept = (c.req.header('accept') ?? '').toLowerCase()
  return accept.includes('application/json') && !accept.includes('text/html')
}

function readQuery<S extends z.ZodType>(c: Ctx, schema: S): z.output<S> {
  const parsed = schema.safeParse(queryObject(new URL(c.req.url).searchParams))
  if (!parsed.success) {
    const { field, message } = queryProblem(parsed.error)
    throw apiError('invalid_query', message, field || undefined)
  }
  return parsed.data
}

/** Query string in one fixed order, empty parts left out. */
function canonical(params: Array<[string, string | number | boolean | string[] | undefined]>): string {
  const parts: string[] = []
  for (const [name, value] of params) {
    if (value === undefined || (Array.isArray(value) && !value.length)) continue
    const text = Array.isArray(value) ? [...value].sort().join(',') : String(value)
    parts.push(`${name}=${encodeURIComponent(text)}`)
  }
  return parts.length ? `?${parts.join('&')}` : ''
}

const listPath = (slug: string, q: ProductListQuery) =>
  `/v1/categories/${slug}/products${canonical([
    ['sort', q.sort],
    ['limit', q.limit],
    ['brand', q.brand],
    ['priceMin', q.priceMin],
    ['priceMax', q.priceMax],
    ['inStock', q.inStock],
    ['cursor', q.cursor],
  ])}`

/** Search text as the engines see it (case, runs of spaces), keeping a trailing space: it ends the last word. */
const normalizeQ = (q: string) => q.toLowerCase().replace(/\s+/g, ' ').replace(/^ /, '')

const searchPath = (q: SearchQuery) =>
  `/v1/search${canonical([
    ['q', normalizeQ(q.q)],
    ['category', q.category],
    ['brand', q.brand],
    ['priceMin', q.priceMin],
    ['priceMax', q.priceMax],
    ['inStock', q.inStock],
    ['sort', q.sort],
    ['cursor', q.cursor],
    ['limit', q.limit],
  ])}`

function json<T>(c: Ctx, fetched: Fetched<T>, data?: unknown): Response {
  return new Response(data === undefined ? fetched.body : JSON.stringify(data), {
    status: fetched.status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=0, must-revalidate',
      vary: 'accept',
      [HEADER_CACHE]: fetched.outcome,
    },
  })
}

/** Core could not be asked and nothing was cached: 503; core refused: its answer. */
async function failed(c: Ctx, error: unknown, html: boolean): Promise<Response> {
  if (error instanceof CoreRefusedError)
    return new Response(error.response.body, {
      status: error.response.status,
      headers: { 'content-type': 'application/json' },
    })
  if (!(error instanceof CoreUnavailableError)) throw error
  if (!html)
    return errorResponse('unavailable', 'the store cannot be reached right now, try again shortly', undefined, {
      'retry-after': '2',
    })
  return htmlResponse(
    messagePage(
      'The store is taking a short break',
      'We cannot load this page right now. Please try again in a moment.',
    ),
    503,
    null,
    { 'retry-after': '2' },
  )
}

/** Each variant with its scheduled or live drop, from the drops list (cached apart from the product). */
function withDrops(product: Product, drops: DropSummary[]): Product {
  return {
    ...product,
    variants: product.variants.map((v) => {
      const d = drops.find((x) => x.sku === v.sku)
      return {
        ...v,
        drop: d ? { saleId: d.saleId, sku: d.sku, startsAt: d.startsAt, stock: d.stock, url: d.url } : null,
      }
    }),
  }
}

async function departments(catalog: EdgeCatalog, ctx?: Waiter): Promise<CategoryNode[]> {
  try {
    return (await catalog.get<CategoriesResponse>('tree', '/v1/categories', CATALOG_TAGS.tree, ctx)).data.categories
  } catch {
    return []
  }
}

const slugParams = pathParams({ slug: Slug })

async function productData(c: Ctx, slug: string): Promise<{ fetched: Fetched<Product>; product: Product | null }> {
  const catalog = edgeCatalog(c.env)
  const ctx = waiter(c)
  const [fetched, drops] = await Promise.all([
    catalog.get<Product>('product', `/v1/products/${slug}`, CATALOG_TAGS.product(slug), ctx),
    catalog.drops(ctx),
  ])
  return { fetched, product: fetched.status === 200 ? withDrops(fetched.data, drops) : null }
}

export const catalogApiRoutes = new Hono<AppEnv>()
  .get('/categories', async (c) => {
    try {
      return json(
        c,
        await edgeCatalog(c.env).get<CategoriesResponse>('tree', '/v1/categories', CATALOG_TAGS.tree, waiter(c)),
      )
    } catch (error) {
      return failed(c, error, false)
    }
  })
  .get('/categories/:slug/products', slugParams, async (c) => {
    const slug = c.req.param('slug')
    const query = readQuery(c, ProductListQuery)
    try {
      return json(
        c,
        await edgeCatalog(c.env).get<ProductListResponse>(
          'listing',
          listPath(slug, query),
          CATALOG_TAGS.category(slug),
          waiter(c),
        ),
      )
    } catch (error) {
      return failed(c, error, false)
    }
  })
  .get('/products/:slug', slugParams, async (c) => {
    try {
      const { fetched, product } = await productData(c, c.req.param('slug'))
      return json(c, fetched, product ?? undefined)
    } catch (error) {
      return failed(c, error, false)
    }
  })
  .get('/availability', async (c) => {
    const { skus } = readQuery(c, AvailabilityQuery)
    const body = await availability(c.env, edgeCatalog(c.env), skus, waiter(c))
    return c.json(body, 200, { 'cache-control': 'no-store' })
  })
  .get('/search', async (c) => {
    const query = readQuery(c, SearchQuery)
    try {
      return json(
        c,
        await edgeCatalog(c.env).get<SearchResponse>('search', searchPath(query), CATALOG_TAGS.search, waiter(c)),
      )
    } catch (error) {
      return failed(c, error, false)
    }
  })
  .get('/search/suggest', async (c) => {
    const { q, limit } = readQuery(c, SuggestQuery)
    try {
      const path = `/v1/search/suggest${canonical([
        ['q', normalizeQ(q)],
        ['limit', limit],
      ])}`
      return json(c, await edgeCatalog(c.env).get<SuggestResponse>('search', path, CATALOG_TAGS.search, waiter(c)))
    } catch (error) {
      return failed(c, error, false)
    }
  })

export const storefrontRoutes = new Hono<AppEnv>()
  .get('/', async (c) => {
    const catalog = edgeCatalog(c.env)
    const ctx = waiter(c)
    try {
      const [home, drops] = await Promise.all([
        catalog.get<HomeResponse>('home', '/v1/catalog/home', CATALOG_TAGS.home, ctx),
        catalog.drops(ctx),
      ])
      const data = { ...home.data, drops }
      if (wantsJson(c)) return json(c, home, data)
      return htmlResponse(homePage(data, Date.now()), 200, home.outcome)
    } catch (error) {
      return failed(c, error, !wantsJson(c))
    }
  })
  .get('/c/:slug', slugParams, async (c) => {
    const slug = c.req.param('slug')
    const query = readQuery(c, ProductListQuery)
    const catalog = edgeCatalog(c.env)
    const ctx = waiter(c)
    try {
      const [list, nav] = await Promise.all([
        catalog.get<ProductListResponse>('listing', listPath(slug, query), CATALOG_TAGS.category(slug), ctx),
        departments(catalog, ctx),
      ])
      if (wantsJson(c)) return json(c, list)
      if (list.status === 404)
        return htmlResponse(messagePage('Category not found', `There is no category ${slug}.`, nav), 404, list.outcome)
      return htmlResponse(categoryPage(list.data, query, nav), 200, list.outcome)
    } catch (error) {
      return failed(c, error, !wantsJson(c))
    }
  })
  .get('/p/:slug', slugParams, async (c) => {
    const slug = c.req.param('slug')
    try {
      const [{ fetched, product }, nav] = await Promise.all([
        productData(c, slug),
        departments(edgeCatalog(c.env), waiter(c)),
      ])
      if (wantsJson(c)) return json(c, fetched, product ?? undefined)
      if (!product)
        return htmlResponse(messagePage('Product not found', `There is no product ${slug}.`, nav), 404, fetched.outcome)
      return htmlResponse(productPage(product, nav, Date.now()), 200, fetched.outcome)
    } catch (error) {
      return failed(c, error, !wantsJson(c))
    }
  })
  .get('/search', async (c) => {
    const query = readQuery(c, SearchQuery)
    const catalog = edgeCatalog(c.env)
    const ctx = waiter(c)
    try {
      const [result, nav] = await Promise.all([
        catalog.get<SearchResponse>('search', searchPath(query), CATALOG_TAGS.search, ctx),
        departments(catalog, ctx),
      ])
      if (wantsJson(c)) return json(c, result)
      return htmlResponse(searchPage(result.data, query, nav), 200, result.outcome)
    } catch (error) {
      return failed(c, error, !wantsJson(c))
    }
  })
  .get('/img/p/:slug/:file', slugParams, (c) => {
    const match = /^([1-9][0-9]?)\.svg$/.exec(c.req.param('file'))
    if (!match) throw apiError('invalid_path', 'file: must be <n>.svg with n from 1 to 99', 'file')
    return imageResponse(c.req.param('slug'), Number(match[1]))
  })

export type { CacheOutcome }
