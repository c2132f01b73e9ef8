/**
 * The storefront end to end: core (catalog, search, sync job) and the real edge worker in workerd (Miniflare),
 * over HTTP, with a slice of the sample catalog loaded by token-issuer and a sale on the demo console.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLocalEdge, type LocalEdge } from '../../scripts/local-edge.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'
import { loadSampleCatalog } from '../../token-issuer/catalog.ts'
import { createSale, type IssuerConfig } from '../../token-issuer/issuer.ts'
import { eventually } from '../support/core.ts'

let stack: LocalStack
let cfg: IssuerConfig
let secondEdge: LocalEdge
const saleId = `store-${randomUUID().slice(0, 8)}`

beforeAll(async () => {
  stack = await startLocalStack()
  cfg = stack.issuerConfig()
  const report = await loadSampleCatalog(cfg, () => {}, { products: 1500 })
  expect(report.errors).toBe(0)
  await createSale(cfg, {
    saleId,
    sku: 'FG-CONSOLE-1',
    name: 'Floodgate demo console',
    priceCents: 49_900,
    stock: 50,
    startsAt: new Date(Date.now() + 3_600_000).toISOString(),
    admitPerMinute: 600,
  })
  secondEdge = await startLocalEdge({
    coreUrl: stack.coreUrl,
    grantSecret: stack.config.GRANT_SECRET,
    edgeAdminToken: stack.config.EDGE_ADMIN_TOKEN,
    coreInternalToken: stack.config.CORE_INTERNAL_TOKEN,
  })
}, 180_000)
afterAll(async () => {
  await secondEdge?.dispose()
  await stack?.stop()
})

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any
const get = (base: string, path: string, json = false) =>
  fetch(`${base}${path}`, { headers: json ? { accept: 'application/json' } : {} })
const read = async (base: string, path: string, json = false): Promise<Json> => (await get(base, path, json)).json()
const admin = (method: string, path: string, body: unknown) =>
  fetch(`${stack.coreUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

describe('when a shopper browses the store through the edge', () => {
  it('should serve home, a category, the product with its drop, and search with a typo', async () => {
    const home = await get(stack.edgeUrl, '/')
    expect(home.status).toBe(200)
    const homeHtml = await home.text()
    expect(homeHtml).toContain('href="/c/electronics"')
    expect(homeHtml).toContain(`href="/sales/${saleId}"`)

    const category = await get(stack.edgeUrl, '/c/gaming-consoles?brand=Floodgate')
    expect(category.status).toBe(200)
    expect(await category.text()).toContain('href="/p/floodgate-demo-console"')

    const product = await get(stack.edgeUrl, '/p/floodgate-demo-console')
    expect(product.status).toBe(200)
    expect(await product.text()).toContain(`href="/sales/${saleId}"`)
    const data = await read(stack.edgeUrl, '/p/floodgate-demo-console', true)
    expect(data.variants[0]).toMatchObject({
      sku: 'FG-CONSOLE-1',
      drop: { saleId, stock: 50, url: `/sales/${saleId}` },
    })

    const search = await read(stack.edgeUrl, '/api/search?q=flodgate+consle')
    expect(search.hits.map((h: { slug: string }) => h.slug)).toContain('floodgate-demo-console')
    expect(search.didYouMean).toBe('floodgate console')
    const suggest = await read(stack.edgeUrl, '/api/search/suggest?q=floodgate+dem')
    expect(suggest.suggestions.map((s: { slug: string }) => s.slug)).toContain('floodgate-demo-console')
  })

  it('should answer availability: the drop from its waiting room, everyday stock from core', async () => {
    const { rows } = await stack.core.db.query<{ sku: string; stock: number }>(
      `SELECT sku, stock FROM catalog_variants WHERE stock > 10 AND sku NOT LIKE 'HERO-%'
        AND sku <> 'FG-CONSOLE-1' ORDER BY id LIMIT 1`,
    )
    const everyday = rows[0]!
    const res = await get(stack.edgeUrl, `/api/availability?skus=FG-CONSOLE-1,${everyday.sku}`)
    expect(res.status).toBe(200)
    const { items }: Json = await res.json()
    expect(items[0]).toMatchObject({ sku: 'FG-CONSOLE-1', state: 'drop_scheduled', available: 50, saleId })
    expect(items[1]).toEqual({ sku: everyday.sku, state: 'in_stock', available: everyday.stock })
  })
})

describe('when an operator changes a price', () => {
  it('should reach every edge instance (two here) within a couple of seconds', async () => {
    const path = '/p/aurora-espresso-machine-duo'
    for (const base of [stack.edgeUrl, secondEdge.url]) expect((await read(base, path, true)).priceCents).toBe(89_900)

    const changed = Date.now()
    expect(
      (
        await admin('PUT', '/admin/catalog/variants/HERO-AURORA-DUO/price', {
          listPriceCents: 89_900,
          salePriceCents: 79_900,
        })
      ).status,
    ).toBe(200)
    const delays = await Promise.all(
      [stack.edgeUrl, secondEdge.url].map((base) =>
        eventually(
          async () => ((await read(base, path, true)).priceCents === 79_900 ? Date.now() - changed : undefined),
          20_000,
          `new price at ${base}`,
        ),
      ),
    )

    // The design bound is VERSIONS_TTL_MS (1 s) plus a fetch; a busy CI machine may add to it, so the test
    // bounds it generously and `npm run bench:catalog` reports the measured p99.
    console.log(`price change visible at each edge instance after ${delays.join(', ')} ms`)
    expect(Math.max(...delays)).toBeLessThan(10_000)
  })
})

describe('when core stops', () => {
  it('should keep answering the cached pages with 200 and say "unknown" for everyday stock', async () => {
    const pages = ['/', '/c/gaming-consoles?brand=Floodgate', '/p/floodgate-demo-console', '/search?q=flodgate+consle']
    for (const p of pages) expect((await get(stack.edgeUrl, p)).status).toBe(200)
    const { rows } = await stack.core.db.query<{ sku: string }>(
      `SELECT sku FROM catalog_variants WHERE stock > 10 ORDER BY id DESC LIMIT 1`,
    )
    const everyday = rows[0]!.sku
    expect((await read(stack.edgeUrl, `/api/availability?skus=${everyday}`)).items[0].state).toBe('in_stock')

    await stack.core.close()

    for (const p of pages) {
      const res = await get(stack.edgeUrl, p)
      expect(res.status, p).toBe(200)
      expect(['hit', 'stale', 'stale-if-error']).toContain(res.headers.get('x-floodgate-cache'))
    }
    // Stock core said over 5 s ago is not repeated: the edge says it does not know.
    const unknown = await eventually(
      async () => {
        const { items } = await read(stack.edgeUrl, `/api/availability?skus=${everyday},FG-CONSOLE-1`)
        return items[0].state === 'unknown' ? items : undefined
      },
      30_000,
      'everyday stock to become unknown',
    )
    expect(unknown[1]).toMatchObject({ sku: 'FG-CONSOLE-1', state: 'drop_scheduled' })
  })
})
