// Scenario 4: the browse mix on cached catalog pages.
//
// A constant arrival rate of page views over one or more sales (`GET /api/sales/:id`, which the edge
// serves from its cache for a couple of seconds), a share of them for a sale that does not exist (404s
// are not cached and must stay cheap). Checks the cache actually answers: `x-floodgate-cache: hit`.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e SALE_ID=drop-1 -e RATE=2000 bench/k6/browse.js
//
// Env: BASE_URL, CORE_URL, SALE_ID (the sale whose invariants teardown checks), SALE_IDS (comma list
// to browse, default SALE_ID), MISSING_SHARE (0.02), RATE (1000 views/s), DURATION_S (60),
// BROWSE_P95_MS (50), MIN_HIT_RATE (0.9), MAX_VUS (1000), MAX_DROPPED (0), CORE_ADMIN_TOKEN.
import http from 'k6/http'
import { check, sleep } from 'k6'
import { Counter, Rate, Trend } from 'k6/metrics'
import { checkInvariantsAtTeardown, commonConfig, envNumber, envString, invariantThresholds, vusFor } from './lib.js'

const cfg = commonConfig(__ENV)
const saleIds = envString(__ENV, 'SALE_IDS', cfg.saleId).split(',').map((s) => s.trim()).filter(Boolean)
const missingShare = envNumber(__ENV, 'MISSING_SHARE', 0.02)
const rate = envNumber(__ENV, 'RATE', 1000)
const durationS = envNumber(__ENV, 'DURATION_S', 60)
const browseP95 = envNumber(__ENV, 'BROWSE_P95_MS', 50)
const minHitRate = envNumber(__ENV, 'MIN_HIT_RATE', 0.9)
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
      preAllocatedVUs: Math.min(maxVUs, vusFor(rate, 0.02)),
      maxVUs,
    },
  },
  thresholds: {
    ...invariantThresholds(cfg),
    'page_duration{page:sale}': [`p(95)<${browseP95}`],
    cache_hit: [`rate>=${minHitRate}`],
    'http_req_failed{page:sale}': ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  teardownTimeout: `${cfg.settleTimeoutS + 30}s`,
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
}

export function browse() {
  if (Math.random() < missingShare) {
    const res = http.get(`${cfg.baseUrl}/api/sales/no-such-sale-k6`, { tags: { name: 'sale-missing', page: 'missing' } })
    pageDuration.add(res.timings.duration, { page: 'missing' })
    check(res, { 'unknown sale is a 404': (r) => r.status === 404 })
    return
  }
  const saleId = saleIds[Math.floor(Math.random() * saleIds.length)]
  const res = http.get(`${cfg.baseUrl}/api/sales/${saleId}`, { tags: { name: 'sale', page: 'sale' } })
  pageDuration.add(res.timings.duration, { page: 'sale' })
  cacheHit.add(res.headers['X-Floodgate-Cache'] === 'hit')
  check(res, {
    'sale page is 200': (r) => r.status === 200,
    'sale page is cacheable': (r) => /max-age=\d+/.test(r.headers['Cache-Control'] || ''),
  })
}

export function teardown() {
  checkInvariantsAtTeardown(http, sleep, cfg, { oversold, duplicateOrders, invariantOk })
}
