// Scenario 4: the browse mix on the storefront's cached pages.
//
// A constant arrival rate of page views: the home page, category listings (some sorted), product pages (each
// followed by its availability request, as the page's script makes it), searches (some with typos), the sale's
// cached data (`GET /api/sales/:id`), and a share of views for products that do not exist (404s must stay
// cheap). Checks the edge's cache actually answers: `x-floodgate-cache: hit` or `stale` (served from cache
// while it refreshes) on pages.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e SALE_ID=drop-1 -e RATE=1000 bench/k6/browse.js
//
// Env: BASE_URL, CORE_URL, SALE_ID (the sale whose invariants teardown checks), SALE_IDS (comma list of sales
// whose data to read, default SALE_ID), CATEGORIES, PRODUCTS, QUERIES (comma lists; defaults: the sample
// catalog's, see `token-issuer catalog sample`), MISSING_SHARE (0.02), RATE (1000 views/s), DURATION_S (60),
// BROWSE_P95_MS (50), MIN_HIT_RATE (0.99), MAX_VUS (1000), MAX_DROPPED (0), CORE_ADMIN_TOKEN.
import http from 'k6/http'
import { check, sleep } from 'k6'
import { Counter, Rate, Trend } from 'k6/metrics'
import { checkInvariantsAtTeardown, commonConfig, envNumber, envString, invariantThresholds, vusFor } from './lib.js'

const cfg = commonConfig(__ENV)
const list = (name, fallback) =>
  envString(__ENV, name, fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
const saleIds = list('SALE_IDS', cfg.saleId)
const categories = list(
  'CATEGORIES',
  'electronics,headphones,gaming-consoles,phones,laptops,home-kitchen,coffee-machines,sports-outdoors,' +
    'running-shoes,fashion,jackets,beauty,toys-games,board-games',
)
const products = list(
  'PRODUCTS',
  'floodgate-demo-console,aurora-espresso-machine-duo,nordlys-down-parka,creme-brulee-torch-set,' +
    'kestrel-carbon-road-bike,sonix-wireless-headphones-x200,tidewave-waterproof-speaker-boom,' +
    'leuchtkraft-mirrorless-camera-m9,hoshiro-damascus-chef-knife,cyclonic-robot-vacuum-cleaner-r7,' +
    'chronos-titanium-smartwatch-orbit,vistara-oled-television-65,novaphone-ultra-smartphone-9',
)
const queries = list(
  'QUERIES',
  'headphones,espresso machine,wireles headphnes,floodgate console,kestral bike,sonix x2,parka,cork yoga mat',
)
const sorts = ['price_asc', 'price_desc', 'name']
const missingShare = envNumber(__ENV, 'MISSING_SHARE', 0.02)
const rate = envNumber(__ENV, 'RATE', 1000)
const durationS = envNumber(__ENV, 'DURATION_S', 60)
const browseP95 = envNumber(__ENV, 'BROWSE_P95_MS', 50)
const minHitRate = envNumber(__ENV, 'MIN_HIT_RATE', 0.99)
const maxVUs = envNumber(__ENV, 'MAX_VUS', 1000)

const pageDuration = new Trend('page_duration', true)
const cacheHit = new Rate('cache_hit')
const oversold = new Counter('oversold')
const duplicateOrders = new Counter('duplicate_orders')
const invariantOk = new Rate('invariant_ok')

export const options = {
  scenarios: {
    browse: {
      executor: 'constant-arrival-rate',
      exec: 'browse',
      rate,
      timeUnit: '1s',
      duration: `${durationS}s`,
      preAllocatedVUs: Math.min(maxVUs, vusFor(rate, 0.03)),
      maxVUs,
    },
  },
  thresholds: Object.assign(invariantThresholds(cfg), {
    'page_duration{page:product}': [`p(95)<${browseP95}`],
    'page_duration{page:category}': [`p(95)<${browseP95}`],
    'page_duration{page:home}': [`p(95)<${browseP95}`],
    cache_hit: [`rate>=${minHitRate}`],
    'http_req_failed{page:product}': ['rate<0.01'],
    'http_req_failed{page:search}': ['rate<0.01'],
    checks: ['rate>0.99'],
  }),
  teardownTimeout: `${cfg.settleTimeoutS + 30}s`,
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
}

const pick = (items) => items[Math.floor(Math.random() * items.length)]

/** One page view: the page, timed and checked; cached pages count towards the hit rate. */
function view(page, path, cached) {
  const res = http.get(`${cfg.baseUrl}${path}`, { tags: { name: page, page } })
  pageDuration.add(res.timings.duration, { page })
  const served = res.headers['X-Floodgate-Cache']
  if (cached) cacheHit.add(served === 'hit' || served === 'stale')
  check(res, { [`${page} is 200`]: (r) => r.status === 200 })
  return res
}

export function browse() {
  const r = Math.random()
  if (r < missingShare) {
    const res = http.get(`${cfg.baseUrl}/p/no-such-product-k6`, { tags: { name: 'missing', page: 'missing' } })
    pageDuration.add(res.timings.duration, { page: 'missing' })
    check(res, { 'unknown product is a 404': (x) => x.status === 404 })
    return
  }
  if (r < 0.15) {
    view('home', '/', true)
  } else if (r < 0.25) {
    const res = view('sale', `/api/sales/${pick(saleIds)}`, true)
    check(res, { 'sale data is cacheable': (x) => /max-age=\d+/.test(x.headers['Cache-Control'] || '') })
  } else if (r < 0.65) {
    const res = view('product', `/p/${pick(products)}`, true)
    // The page's script asks for live stock apart from the cached page.
    const sku = /data-sku="([^"]+)"/.exec(res.body || '')
    if (sku) {
      const stock = http.get(`${cfg.baseUrl}/api/availability?skus=${encodeURIComponent(sku[1])}`, {
        tags: { name: 'availability', page: 'availability' },
      })
      pageDuration.add(stock.timings.duration, { page: 'availability' })
      check(stock, { 'availability is 200': (x) => x.status === 200 })
    }
  } else if (r < 0.85) {
    const sort = Math.random() < 0.8 ? '' : `?sort=${pick(sorts)}`
    view('category', `/c/${pick(categories)}${sort}`, true)
  } else {
    view('search', `/search?q=${encodeURIComponent(pick(queries))}`, true)
  }
}

export function teardown() {
  checkInvariantsAtTeardown(http, sleep, cfg, { oversold, duplicateOrders, invariantOk })
}
