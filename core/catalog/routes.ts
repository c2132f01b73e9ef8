/**
 * The catalog's HTTP routes on core, mounted by core/app.ts:
 *   shoppers (read, uncached here; the edge caches):  GET /v1/categories, /v1/categories/:slug/products,
 *     /v1/products/:slug, /v1/availability?skus=, /v1/catalog/home, /v1/catalog/drops, /v1/catalog/changes
 *   operators (CORE_ADMIN_TOKEN):  PUT /admin/catalog/categories/:slug, GET|PUT|PATCH /admin/catalog/products/:slug,
 *     POST /admin/catalog/products/:slug/archive, PUT /admin/catalog/variants/:sku/price|stock,
 *     POST /admin/catalog/import
 * Bad input is a 4xx `{error:{code,message,field}}` and changes nothing.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { z } from 'zod'
import {
  AvailabilityQuery,
  CatalogChangesQuery,
  CategoryBody,
  ImportRequest,
  MAX_ADMIN_BODY_BYTES,
  MAX_CATALOG_BODY_BYTES,
  PriceBody,
  ProductBody,
  ProductListQuery,
  ProductPatch,
  Sku,
  Slug,
  StockBody,
  queryObject,
  queryProblem,
  type Product,
} from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'
import { requireBearer } from '../http/bearer.ts'
import { readJson } from '../http/json-body.ts'
import type { Catalog } from './catalog.ts'
import type { CatalogMetrics } from './catalog-metrics.ts'

/** Validates the query string; an unknown parameter is named in `field`. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(queryObject(new URL(c.req.url).searchParams))
  if (!parsed.success) {
    const { field, message } = queryProblem(parsed.error)
    throw new ApiError('invalid_query', message, field || undefined)
  }
  return parsed.data
}

function slugParam(c: Context): string {
  const parsed = Slug.safeParse(c.req.param('slug'))
  if (!parsed.success) throw new ApiError('invalid_path', `slug: ${parsed.error.issues[0]?.message}`, 'slug')
  return parsed.data
}

function skuParam(c: Context): string {
  const parsed = Sku.safeParse(c.req.param('sku'))
  if (!parsed.success) throw new ApiError('invalid_path', `sku: ${parsed.error.issues[0]?.message}`, 'sku')
  return parsed.data
}

export interface CatalogRoutesDeps {
  catalog: Catalog
  metrics: CatalogMetrics
  adminToken: string
  /** Who may call the operator routes: default the static admin token; core passes "it or an operator's". */
  adminAuth?: MiddlewareHandler
}

export function catalogRoutes({ catalog, metrics, adminToken, adminAuth }: CatalogRoutesDeps): Hono {
  const app = new Hono()
  const read = (route: string) => metrics.reads.inc({ route })

  app.get('/v1/categories', async (c) => {
    read('categories')
    return c.json(await catalog.listing.categories())
  })
  app.get('/v1/categories/:slug/products', async (c) => {
    const slug = slugParam(c)
    const query = readQuery(c, ProductListQuery)
    read('category_products')
    return c.json(await catalog.listing.products(slug, query))
  })
  app.get('/v1/products/:slug', async (c) => {
    const slug = slugParam(c)
    read('product')
    const found = await catalog.store.product(slug)
    if (!found) throw new ApiError('product_not_found', `no product ${slug}`, 'slug')
    const { status: _status, version: _version, ...product } = found
    return c.json(product satisfies Product)
  })
  app.get('/v1/availability', async (c) => {
    const { skus } = readQuery(c, AvailabilityQuery)
    read('availability')
    return c.json({ items: await catalog.availability(skus), at: Date.now() })
  })
  app.get('/v1/catalog/home', async (c) => {
    read('home')
    return c.json(await catalog.listing.home())
  })
  app.get('/v1/catalog/drops', async (c) => {
    read('drops')
    return c.json(await catalog.listing.drops())
  })
  app.get('/v1/catalog/changes', async (c) => {
    const { after } = readQuery(c, CatalogChangesQuery)
    read('changes')
    return c.json(await catalog.changes(after))
  })

  const admin = new Hono()
  admin.use('*', adminAuth ?? requireBearer(adminToken))
  const wrote = (kind: string) => metrics.writes.inc({ kind })
  const adminProduct = async (slug: string) => (await catalog.store.product(slug, { includeArchived: true }))!

  admin.put('/categories/:slug', async (c) => {
    const slug = slugParam(c)
    const body = await readJson(c, CategoryBody, MAX_CATALOG_BODY_BYTES)
    const { created } = await catalog.putCategory(slug, body)
    wrote('category')
    const tree = await catalog.store.tree()
    const row = tree.bySlug.get(slug)!
    return c.json(
      {
        slug,
        name: row.name,
        parent: row.parentId === null ? null : tree.byId.get(row.parentId)!.slug,
        position: row.position,
      },
      created ? 201 : 200,
    )
  })
  admin.get('/products/:slug', async (c) => {
    const slug = slugParam(c)
    const product = await catalog.store.product(slug, { includeArchived: true })
    if (!product) throw new ApiError('product_not_found', `no product ${slug}`, 'slug')
    return c.json(product)
  })
  admin.put('/products/:slug', async (c) => {
    const slug = slugParam(c)
    const body = await readJson(c, ProductBody, MAX_CATALOG_BODY_BYTES)
    const { created } = await catalog.putProduct(slug, body)
    wrote('product')
    return c.json(await adminProduct(slug), created ? 201 : 200)
  })
  admin.patch('/products/:slug', async (c) => {
    const slug = slugParam(c)
    const patch = await readJson(c, ProductPatch, MAX_CATALOG_BODY_BYTES)
    await catalog.patchProduct(slug, patch)
    wrote('patch')
    return c.json(await adminProduct(slug))
  })
  admin.post('/products/:slug/archive', async (c) => {
    const slug = slugParam(c)
    await catalog.archiveProduct(slug)
    wrote('archive')
    return c.json(await adminProduct(slug))
  })
  admin.put('/variants/:sku/price', async (c) => {
    const sku = skuParam(c)
    const body = await readJson(c, PriceBody, MAX_CATALOG_BODY_BYTES)
    await catalog.setPrice(sku, body)
    wrote('price')
    return c.json({ sku, listPriceCents: body.listPriceCents, salePriceCents: body.salePriceCents ?? null })
  })
  admin.put('/variants/:sku/stock', async (c) => {
    const sku = skuParam(c)
    const { quantity } = await readJson(c, StockBody, MAX_CATALOG_BODY_BYTES)
    await catalog.setStock(sku, quantity)
    wrote('stock')
    return c.json({ sku, quantity })
  })
  admin.post('/import', async (c) => {
    const { items } = await readJson(c, ImportRequest, MAX_ADMIN_BODY_BYTES)
    const response = await catalog.importItems(items)
    wrote('import')
    return c.json(response)
  })
  app.route('/admin/catalog', admin)
  return app
}
