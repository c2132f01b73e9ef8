// Scenario 2: waiting-room pollers until admitted, then redeem and pay.
//
// Shoppers arrive on an open model (ramping-arrival-rate, 0 → RATE/s in RAMP_S s, held HOLD_S s).
// Each one, with its own cookie jar: joins, polls /status honouring the room's `refreshMs` with
// ±20% jitter, and when admitted redeems its token + grant (Idempotency-Key) and follows the order
// with the long-poll `GET /api/orders/:id?waitMs=5000` until it is confirmed or failed.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e SALE_ID=drop-1 -e RATE=200 bench/k6/shoppers.js
//
// Env: BASE_URL, CORE_URL, SALE_ID, CORE_ADMIN_TOKEN, RATE (200 arrivals/s), RAMP_S (10), HOLD_S (60),
// MAX_WAIT_S (120: a shopper gives up after this), PAYMENT_METHOD (pm_card_visa),
// REDEEM_P95_MS (250), JOIN_P95_MS (500), MAX_VUS (20000), MAX_DROPPED (0), SETTLE_TIMEOUT_S (60).
import http from 'k6/http'
import exec from 'k6/execution'
import { check, sleep } from 'k6'
import { Counter, Rate, Trend } from 'k6/metrics'
import {
  checkInvariantsAtTeardown,
  commonConfig,
  envNumber,
  envString,
  idempotencyKey,
  invariantThresholds,
  jitteredMs,
  jsonOf,
  spikeStages,
  shopperHeaders,
  vusFor,
} from './lib.js'

const cfg = commonConfig(__ENV)
const rate = envNumber(__ENV, 'RATE', 200)
const rampS = envNumber(__ENV, 'RAMP_S', 10)
const holdS = envNumber(__ENV, 'HOLD_S', 60)
const maxWaitS = envNumber(__ENV, 'MAX_WAIT_S', 120)
const paymentMethod = envString(__ENV, 'PAYMENT_METHOD', 'pm_card_visa')
const redeemP95 = envNumber(__ENV, 'REDEEM_P95_MS', 250)
const joinP95 = envNumber(__ENV, 'JOIN_P95_MS', 500)
const maxVUs = envNumber(__ENV, 'MAX_VUS', 20000)

const joinDuration = new Trend('join_duration', true)
const redeemDuration = new Trend('redeem_duration', true)
const timeToAdmission = new Trend('time_to_admission', true)
const timeToSettled = new Trend('time_to_settled', true)
const outcomes = new Counter('shopper_outcomes')
const polls = new Counter('status_polls')
const oversold = new Counter('oversold')
const duplicateOrders = new Counter('duplicate_orders')
const invariantOk = new Rate('invariant_ok')

export const options = {
  scenarios: {
    shoppers: {
      executor: 'ramping-arrival-rate',
      exec: 'shop',
      startRate: 0,
      timeUnit: '1s',
      stages: spikeStages(rate, rampS, holdS, 0),
      // A shopper lives as long as its wait: plan VUs for the longest one.
      preAllocatedVUs: Math.min(maxVUs, vusFor(rate, 5)),
      maxVUs,
      gracefulStop: `${maxWaitS + 15}s`,
    },
  },
  thresholds: {
    ...invariantThresholds(cfg),
    join_duration: [`p(95)<${joinP95}`],
    redeem_duration: [`p(95)<${redeemP95}`],
    'http_req_failed{name:status}': ['rate<0.01'],
    'checks{step:redeem}': ['rate>0.99'],
  },
  teardownTimeout: `${cfg.settleTimeoutS + 30}s`,
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
}

function finish(outcome) {
  outcomes.add(1, { outcome })
}

export function shop() {
  const jar = new http.CookieJar()
  const sale = `${cfg.baseUrl}/api/sales/${cfg.saleId}`
  const arrived = Date.now()
  const deadline = arrived + maxWaitS * 1000
  const headers = shopperHeaders()
  const joined = http.post(`${sale}/join`, null, { jar, headers, tags: { name: 'join' } })
  joinDuration.add(joined.timings.duration)
  let status = jsonOf(joined)
  if (!check(joined, { 'join answered 200': (r) => r.status === 200 }, { step: 'join' }) || !status)
    return finish('error')

  while (status.state === 'waiting' || status.state === 'not_started') {
    if (Date.now() > deadline) return finish('gave_up')
    sleep(jitteredMs(status.refreshMs) / 1000)
    const res = http.get(`${sale}/status`, { jar, headers, tags: { name: 'status' } })
    polls.add(1)
    const next = jsonOf(res)
    if (res.status !== 200 || !next) return finish('error')
    status = next
  }
  if (status.state === 'sold_out') return finish('sold_out')
  if (status.state !== 'admitted') return finish(String(status.state))
  timeToAdmission.add(Date.now() - arrived)

  const key = idempotencyKey(exec.vu.idInTest, exec.scenario.iterationInTest)
  const redeemed = http.post(
    `${sale}/redeem`,
    JSON.stringify({ token: status.token, grant: status.grant, paymentMethod }),
    {
      jar,
      headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': key },
      tags: { name: 'redeem' },
    },
  )
  redeemDuration.add(redeemed.timings.duration)
  const order = jsonOf(redeemed)
  const accepted = check(
    redeemed,
    {
      'redeem answered 202 or a clean refusal': (r) => r.status === 202 || r.status === 409 || r.status === 410,
    },
    { step: 'redeem' },
  )
  if (!accepted) return finish('error')
  if (redeemed.status !== 202 || !order) return finish('refused')

  // Pay: the saga authorizes, confirms and captures; the long-poll returns as soon as it settles.
  while (Date.now() < deadline) {
    const res = http.get(`${cfg.baseUrl}/api/orders/${order.orderId}?waitMs=5000`, { jar, tags: { name: 'order' } })
    const o = jsonOf(res)
    if (res.status === 200 && o && o.status !== 'pending') {
      timeToSettled.add(Date.now() - arrived)
      return finish(o.status === 'confirmed' ? 'confirmed' : 'payment_failed')
    }
    if (res.status !== 200) sleep(0.5)
  }
  return finish('gave_up')
}

export function teardown() {
  checkInvariantsAtTeardown(http, sleep, cfg, { oversold, duplicateOrders, invariantOk })
}
