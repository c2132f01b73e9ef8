/**
 * `npm run bench:catalog` — the storefront's numbers on the 10,000-product sample catalog, on this machine:
 *
 *   golden set      recall@10 of the golden queries (exact, typo, prefix) through core's /v1/search
 *   search          latency of /v1/search (golden queries, with and without filters), 4 at a time
 *   index lag       a product renamed → searchable by its new word (outbox, BullMQ drain, engine)
 *   price change    an operator's price change → visible on every edge instance (--edges Miniflare instances)
 *   browse          --rate page views/s (home, categories, products, search; a fixed, seeded mix) through the
 *                   local edge for --browse-seconds after a warm-up: cache hit rate, and core calls per page
 *                   (counted by a proxy between the edge and core)
 *   core down       core stopped: share of the browsed pages still answered 200
 *
 *   npm run bench:catalog -- [--json] [--products 10000] [--rate 1000] [--browse-seconds 30] [--warmup-seconds 30]
 *                            [--edges 3] [--price-trials 20] [--lag-samples 50] [--search-requests 400]
 *                            [--engine postgres]
 * With --json the last line of stdout is one JSON object.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { CATALOG_CACHE_POLICIES as POLICIES, edgeReceiptHeader } from '../contracts/index.ts'
import { GOLDEN_QUERIES } from '../core/search/golden.ts'
import { HERO_PRODUCTS, sampleCatalog, seededRandom, SAMPLE_PRODUCTS } from '../core/catalog/sample-catalog.ts'
import { startLocalEdge, type LocalEdge } from '../scripts/local-edge.ts'
import { startLocalStack } from '../scripts/local-stack.ts'
import { loadSampleCatalog } from '../token-issuer/catalog.ts'
import { percentile } from './shoppers.ts'
import { numberOption } from './options.ts'

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    products: { type: 'string', default: String(SAMPLE_PRODUCTS) },
    rate: { type: 'string', default: '1000' },
    'browse-seconds': { type: 'string', default: '30' },
    'warmup-seconds': { type: 'string', default: '30' },
    edges: { type: 'string', default: '3' },
    'price-trials': { type: 'string', default: '20' },
    'lag-samples': { type: 'string', default: '50' },
    'search-requests': { type: 'string', default: '400' },
    engine: { type: 'string', default: 'postgres' },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  console.log(
    'usage: npm run bench:catalog -- [--json] [--products N] [--rate N] [--browse-seconds S] [--warmup-seconds S]\n' +
      '         [--edges N] [--price-trials N] [--lag-samples N] [--search-requests N]\n' +
      '         [--engine postgres|elasticsearch]',
  )
  process.exit(0)
}
const num = (name: keyof typeof args) => numberOption(args, name)
const say = (line: string) => {
  if (!args.json) console.log(line)
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000, pipelining: 1 })
async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await request(url, { dispatcher: agent, headers: { accept: 'application/json', ...headers } })
  const text = await res.body.text()
  return { status: res.statusCode, body: text ? JSON.parse(text) : null }
}

/** Forwards the edge's calls to core and counts them per path (core calls per page per edge instance). */
async function countingProxy(
  target: string,
): Promise<{ url: string; counts: Map<string, number>; reset(): void; close(): Promise<void> }> {
  const counts = new Map<string, number>()
  const upstream = new URL(target)
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/'
    if (!path.startsWith('/v1/catalog/changes')) counts.set(path, (counts.get(path) ?? 0) + 1)
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    reset: () => counts.clear(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

const stack = await startLocalStack({ env: { SEARCH_ENGINE: args.engine, LOG_LEVEL: 'warn' }, logLevel: 'warn' })
const cfg = stack.issuerConfig()
const extraEdges: LocalEdge[] = []
const edgeOptions = (coreUrl: string) => ({
  coreUrl,
  grantSecret: stack.config.GRANT_SECRET,
  edgeAdminToken: stack.config.EDGE_ADMIN_TOKEN,
  coreInternalToken: stack.config.CORE_INTERNAL_TOKEN,
})
const result: Record<string, unknown> = { engine: args.engine }
let exitCode = 0
try {
  const products = num('products')
  say(`loading the sample catalog (${products} products) ...`)
  const load = await loadSampleCatalog(cfg, say, { products })
  result.products = products
  result.catalogLoadSeconds = round(load.seconds + load.indexedSeconds)

  // ---------------------------------------------------------------- golden set and search latency
  // Straight to core, as the edge asks it (with the edge's receipt, which core's /v1 API requires).
  const search = async (q: string, extra = '') =>
    getJson(
      `${stack.coreUrl}/v1/search?q=${encodeURIComponent(q)}&limit=10${extra}`,
      await edgeReceiptHeader(stack.config.CORE_INTERNAL_TOKEN, 'GET', '/v1/search'),
    )
  const found = { exact: [0, 0], typo: [0, 0], prefix: [0, 0] } as Record<string, [number, number]>
  for (const g of GOLDEN_QUERIES) {
    const { body } = await search(g.q)
    found[g.kind]![1]++
    if (body.hits.slice(0, 10).some((h: { slug: string }) => h.slug === g.expect)) found[g.kind]![0]++
  }
  const recall = (k: string) => round(found[k]![0] / found[k]![1], 3)
  Object.assign(result, {
    goldenQueries: GOLDEN_QUERIES.length,
    typoRecallAt10: recall('typo'),
    prefixRecallAt10: recall('prefix'),
    exactRecallAt10: recall('exact'),
  })
  say(
    `golden set: ${GOLDEN_QUERIES.length} queries, recall@10 typo ${recall('typo')}, prefix ${recall('prefix')}, ` +
      `exact ${recall('exact')}`,
  )

  const filters = [
    '',
    '',
    '&inStock=true',
    '&sort=price_asc',
    '&category=electronics',
    '&priceMin=5000&priceMax=24999',
    '&brand=Sonix,Koto',
  ]
  const searchTimes: number[] = []
  const total = num('search-requests')
  let next = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = next++; i < total; i = next++) {
        const g = GOLDEN_QUERIES[i % GOLDEN_QUERIES.length]!
        const started = performance.now()
        const { status } = await search(g.q, filters[i % filters.length])
        if (status !== 200) throw new Error(`search answered ${status}`)
        searchTimes.push(performance.now() - started)
      }
    }),
  )
  Object.assign(result, {
    searchRequests: total,
    searchP50Ms: round(percentile(searchTimes, 50)),
    searchP95Ms: round(percentile(searchTimes, 95)),
  })
  say(`search: ${total} requests through core, 4 at a time: p50 ${result.searchP50Ms} ms, p95 ${result.searchP95Ms} ms`)

  // ---------------------------------------------------------------- index lag
  const admin = (method: string, path: string, body: unknown) =>
    request(`${stack.coreUrl}${path}`, {
      dispatcher: agent,
      method: method as 'PATCH',
      headers: { authorization: `Bearer ${stack.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (res) => {
      await res.body.text()
      if (res.statusCode !== 200) throw new Error(`${method} ${path} answered ${res.statusCode}`)
    })
  const lags: number[] = []
  const lines = sampleCatalog({ products: Math.min(products, 2_000) }).filter((l) => l.type === 'product')
  for (let i = 0; i < num('lag-samples'); i++) {
    const line = lines[HERO_PRODUCTS.length + (i % (lines.length - HERO_PRODUCTS.length))]!
    const word = `zq${i}x${Date.now().toString(36)}`
    const changed = performance.now()
    await admin('PATCH', `/admin/catalog/products/${line.slug}`, { name: `${line.name} ${word}` })
    for (;;) {
      const { body } = await search(word)
      if (body.total > 0) break
      if (performance.now() - changed > 60_000) throw new Error(`${word} not searchable after 60 s`)
      await sleep(20)
    }
    lags.push(performance.now() - changed)
  }
  Object.assign(result, { indexLagP50Ms: round(percentile(lags, 50)), indexLagP99Ms: round(percentile(lags, 99)) })
  say(
    `index lag: ${lags.length} renames, searchable after p50 ${result.indexLagP50Ms} ms, ` +
      `p99 ${result.indexLagP99Ms} ms`,
  )

  // ---------------------------------------------------------------- price change across edge instances
  for (let i = 1; i < num('edges'); i++) extraEdges.push(await startLocalEdge(edgeOptions(stack.coreUrl)))
  const edges = [stack.edgeUrl, ...extraEdges.map((e) => e.url)]
  const hero = HERO_PRODUCTS[1]!
  const priceOf = async (base: string) => (await getJson(`${base}/p/${hero.slug}`)).body.priceCents as number
  for (const base of edges) await priceOf(base)
  const visible: number[] = []
  for (let t = 0; t < num('price-trials'); t++) {
    const sale = hero.price - 100 * (t + 1)
    const changed = performance.now()
    await admin('PUT', `/admin/catalog/variants/${hero.sku}/price`, {
      listPriceCents: hero.price,
      salePriceCents: sale,
    })
    const each = await Promise.all(
      edges.map(async (base) => {
        for (;;) {
          if ((await priceOf(base)) === sale) return performance.now() - changed
          if (performance.now() - changed > 30_000) throw new Error(`price not visible at ${base} after 30 s`)
          await sleep(25)
        }
      }),
    )
    visible.push(Math.max(...each))
    // Let the next change start from an idle feed.
    await sleep(200)
  }
  Object.assign(result, {
    edgeInstances: edges.length,
    priceChangeVisibleP50Ms: round(percentile(visible, 50)),
    priceChangeVisibleP99Ms: round(percentile(visible, 99)),
  })
  say(
    `price change: ${visible.length} changes, visible on all ${edges.length} edge instances after ` +
      `p50 ${result.priceChangeVisibleP50Ms} ms, p99 ${result.priceChangeVisibleP99Ms} ms`,
  )
  for (const e of extraEdges.splice(0)) await e.dispose()

  // ---------------------------------------------------------------- browse at a constant rate
  const proxy = await countingProxy(stack.coreUrl)
  const browseEdge = await startLocalEdge(edgeOptions(proxy.url))
  extraEdges.push(browseEdge)
  const categories = sampleCatalog({ products: 1 })
    .filter((l) => l.type === 'category')
    .map((l) => l.slug)
  const productSlugs = lines.map((l) => l.slug)
  const queries = GOLDEN_QUERIES.slice(0, 30).map((g) => g.q)
  const random = seededRandom(42)
  // Zipf-like popularity: a few products are looked at far more than the rest.
  const zipf = (n: number) => Math.min(n - 1, Math.floor(n ** random() - 1))
  // The mix around a drop: the home page and the drop's product page are the hot spots; categories, other
  // products (the 500 most looked-at) and searches follow a Zipf-like popularity.
  const popular = productSlugs.slice(0, 500)
  const pick = () => {
    const r = random()
    if (r < 0.15) return '/'
    if (r < 0.35) return `/p/${HERO_PRODUCTS[0]!.slug}`
    if (r < 0.55) {
      const sort = random() < 0.85 ? '' : `?sort=${['price_asc', 'price_desc', 'name'][Math.floor(random() * 3)]}`
      return `/c/${categories[zipf(categories.length)]}${sort}`
    }
    if (r < 0.85) return `/p/${popular[zipf(popular.length)]}`
    return `/search?q=${encodeURIComponent(queries[zipf(queries.length)]!)}`
  }
  const rate = num('rate')
  const outcomes = new Map<string, number>()
  const pageTimes: number[] = []
  let errors = 0
  const errorStatuses = new Map<number, number>()
  let sent = 0
  const pagesSeen = new Set<string>()
  const drive = async (seconds: number, measure: boolean) => {
    const started = performance.now()
    const inflight = new Set<Promise<void>>()
    let issued = 0
    while (performance.now() - started < seconds * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate)
      for (; issued < due; issued++) {
        if (inflight.size >= 512) break
        const path = pick()
        const t0 = performance.now()
        const p = request(`${browseEdge.url}${path}`, { dispatcher: agent })
          .then(async (res) => {
            await res.body.text()
            if (!measure) return
            sent++
            pagesSeen.add(path)
            pageTimes.push(performance.now() - t0)
            if (res.statusCode !== 200) {
              errors++
              errorStatuses.set(res.statusCode, (errorStatuses.get(res.statusCode) ?? 0) + 1)
            }
            const outcome = String(res.headers['x-floodgate-cache'] ?? 'none')
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
          })
          .catch(() => {
            if (!measure) return
            errors++
            errorStatuses.set(0, (errorStatuses.get(0) ?? 0) + 1)
          })
          .finally(() => inflight.delete(p))
        inflight.add(p)
      }
      await sleep(5)
    }
    await Promise.all(inflight)
    return (performance.now() - started) / 1000
  }
  say(`browse: warming up ${num('warmup-seconds')} s at ${rate} views/s ...`)
  await drive(num('warmup-seconds'), false)
  proxy.reset()
  say(`browse: ${num('browse-seconds')} s at ${rate} views/s through the local edge ...`)
  const elapsed = await drive(num('browse-seconds'), true)
  const served = (outcomes.get('hit') ?? 0) + (outcomes.get('stale') ?? 0)
  // Core calls per page: the most any one core path was asked for in the window, per TTL that fits in it.
  const ttlOf = (path: string) =>
    path.startsWith('/v1/products/')
      ? POLICIES.product.ttlMs
      : path.startsWith('/v1/categories/')
        ? POLICIES.listing.ttlMs
        : path.startsWith('/v1/search')
          ? POLICIES.search.ttlMs
          : path.startsWith('/v1/catalog/home')
            ? POLICIES.home.ttlMs
            : path.startsWith('/v1/catalog/drops')
              ? POLICIES.drops.ttlMs
              : POLICIES.tree.ttlMs
  let worst = 0
  for (const [path, calls] of proxy.counts)
    worst = Math.max(worst, calls / Math.max(1, Math.ceil((elapsed * 1000) / ttlOf(path))))
  Object.assign(result, {
    browseRate: rate,
    browseAchievedRps: round(sent / elapsed),
    browseViews: sent,
    browseDistinctPages: pagesSeen.size,
    browseHitRate: round(served / Math.max(1, sent), 4),
    browseMisses: outcomes.get('miss') ?? 0,
    browseErrors: errors,
    browseErrorStatuses: Object.fromEntries(errorStatuses),
    browseP95Ms: round(percentile(pageTimes, 95)),
    coreCallsDuringBrowse: [...proxy.counts.values()].reduce((a, b) => a + b, 0),
    maxCoreCallsPerPagePerTtl: round(worst, 2),
  })
  say(
    `browse: ${sent} views in ${round(elapsed)} s (${result.browseAchievedRps}/s), ${pagesSeen.size} distinct pages, ` +
      `hit rate ${result.browseHitRate} (${result.browseMisses} misses, ${errors} errors), ` +
      `p95 ${result.browseP95Ms} ms; ` +
      `core asked ${result.coreCallsDuringBrowse} times, ` +
      `at most ${result.maxCoreCallsPerPagePerTtl} per page per TTL`,
  )

  // ---------------------------------------------------------------- core stopped
  await stack.core.close()
  const warmed = [...pagesSeen].slice(0, 500)
  let ok = 0
  for (const path of warmed) {
    try {
      const res = await request(`${browseEdge.url}${path}`, { dispatcher: agent })
      await res.body.text()
      if (res.statusCode === 200) ok++
    } catch (error) {
      console.error(`core stopped: ${browseEdge.url}${path} failed: ${(error as Error).message}`)
    }
  }
  result.staleServedWhileCoreDown = round(ok / Math.max(1, warmed.length), 4)
  say(`core stopped: ${ok} of ${warmed.length} browsed pages still answered 200`)
  await proxy.close()
} catch (error) {
  exitCode = 1
  console.error(error)
} finally {
  for (const e of extraEdges) await e.dispose().catch(() => undefined)
  await stack.stop().catch(() => undefined)
  await agent.close()
}
if (args.json) console.log(JSON.stringify(result))
else console.log(JSON.stringify(result, null, 2))
process.exit(exitCode)
