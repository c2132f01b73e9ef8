// Scenario 1: pre-queue trickle, then the on-sale spike.
//
// Shoppers arrive before the sale opens at a trickle (constant-arrival-rate), then the spike ramps
// 0 → RATE joins/s in RAMP_S seconds (ramping-arrival-rate: an open model, so a slow edge shows up as
// latency and dropped_iterations instead of quietly fewer arrivals). Each iteration is a new shopper
// with its own cookie jar: the join mints the `fg_session` cookie.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e SALE_ID=drop-1 -e RATE=2000 bench/k6/spike.js
//
// Env (see bench/README.md): BASE_URL, CORE_URL, SALE_ID, CORE_ADMIN_TOKEN, TRICKLE_RATE (10/s),
// TRICKLE_S (30), RATE (1000 joins/s at the top), RAMP_S (10), HOLD_S (30), JOIN_P95_MS (500),
// MAX_VUS (2000), MAX_DROPPED (0), SETTLE_TIMEOUT_S (60).
import http from 'k6/http'
import { check, sleep } from 'k6'
import { Counter, Rate, Trend } from 'k6/metrics'
import {
  checkInvariantsAtTeardown,
  commonConfig,
  envNumber,
  invariantThresholds,
  jsonOf,
  shopperHeaders,
  spikeStages,
  vusFor,
} from './lib.js'

const cfg = commonConfig(__ENV)
const trickleRate = envNumber(__ENV, 'TRICKLE_RATE', 10)
const trickleS = envNumber(__ENV, 'TRICKLE_S', 30)
const rate = envNumber(__ENV, 'RATE', 1000)
const rampS = envNumber(__ENV, 'RAMP_S', 10)
const holdS = envNumber(__ENV, 'HOLD_S', 30)
const joinP95 = envNumber(__ENV, 'JOIN_P95_MS', 500)
const maxVUs = envNumber(__ENV, 'MAX_VUS', 2000)

const joinDuration = new Trend('join_duration', true)
const joinStates = new Counter('join_states')
const oversold = new Counter('oversold')
const duplicateOrders = new Counter('duplicate_orders')
const invariantOk = new Rate('invariant_ok')

export const options = {
  scenarios: {
    trickle: {
      executor: 'constant-arrival-rate',
      exec: 'join',
      rate: trickleRate,
      timeUnit: '1s',
      duration: `${trickleS}s`,
      preAllocatedVUs: vusFor(trickleRate, 0.5),
      maxVUs: Math.max(10, vusFor(trickleRate, 2)),
      tags: { phase: 'trickle' },
    },
    spike: {
      executor: 'ramping-arrival-rate',
      exec: 'join',
      startTime: `${trickleS}s`,
      startRate: 0,
      timeUnit: '1s',
      stages: spikeStages(rate, rampS, holdS, 5),
      preAllocatedVUs: Math.min(maxVUs, vusFor(rate, 0.2)),
      maxVUs,
      tags: { phase: 'spike' },
    },
  },
  thresholds: {
    ...invariantThresholds(cfg),
    join_duration: [`p(95)<${joinP95}`],
    'join_duration{phase:spike}': [`p(95)<${joinP95}`],
    'http_req_failed{name:join}': ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  teardownTimeout: `${cfg.settleTimeoutS + 30}s`,
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
}

export function join() {
  const jar = new http.CookieJar() // a new shopper: no session yet
  const res = http.post(`${cfg.baseUrl}/api/sales/${cfg.saleId}/join`, null, {
    jar,
    headers: { ...shopperHeaders(), accept: 'application/json' },
    tags: { name: 'join' },
  })
  joinDuration.add(res.timings.duration)
  const body = jsonOf(res)
  const state = body && body.state
  joinStates.add(1, { state: String(state) })
  check(res, {
    'join answered 200': (r) => r.status === 200,
    'join has a room state': () => ['not_started', 'waiting', 'admitted', 'sold_out'].includes(state),
    // `__Host-fg_session` over https (a deployment), `fg_session` over plain http (wrangler dev).
    'join sets the session cookie': () =>
      Object.keys(jar.cookiesForURL(cfg.baseUrl)).some((name) => name === 'fg_session' || name === '__Host-fg_session'),
  })
}

export function teardown() {
  checkInvariantsAtTeardown(http, sleep, cfg, { oversold, duplicateOrders, invariantOk })
}
