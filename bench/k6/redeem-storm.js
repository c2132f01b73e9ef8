// Scenario 3: redeem storm, with replayed and forged tokens mixed in.
//
// A constant arrival rate of redeem requests. Most carry a fresh, valid token + grant pair minted
// ahead of time with the sale's secrets (`npm run bench:pairs`, a JSON file loaded once into a
// SharedArray); REPLAY_SHARE of them replay an earlier pair with a new Idempotency-Key (must get the
// same order back or a clean 409, never a second unit); FORGED_SHARE carry a token or grant whose HMAC
// was altered (must be refused with 403, never accepted). Teardown reads core's invariant report.
//
//   npm run bench:pairs -- --sale drop-1 --count 50000 --out /tmp/pairs.json
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e SALE_ID=drop-1 -e PAIRS_FILE=/tmp/pairs.json -e RATE=2000 bench/k6/redeem-storm.js
//
// Env: BASE_URL, CORE_URL, SALE_ID, CORE_ADMIN_TOKEN, PAIRS_FILE (required), TARGET (edge: through
// BASE_URL/api/sales/:id/redeem; core: straight to CORE_URL/v1/redeem), RATE (1000/s), DURATION_S (30),
// REPLAY_SHARE (0.1), FORGED_SHARE (0.05), REDEEM_P95_MS (100), MAX_VUS (2000), MAX_DROPPED (0),
// SETTLE_TIMEOUT_S (60).
import http from 'k6/http'
import exec from 'k6/execution'
import { SharedArray } from 'k6/data'
import { check, sleep } from 'k6'
import { Counter, Rate, Trend } from 'k6/metrics'
import {
  checkInvariantsAtTeardown,
  commonConfig,
  envNumber,
  envString,
  forgeSignature,
  idempotencyKey,
  invariantThresholds,
  jsonOf,
  judgeRedeem,
  pickRedeemKind,
  vusFor,
} from './lib.js'

const cfg = commonConfig(__ENV)
const target = envString(__ENV, 'TARGET', 'edge')
const rate = envNumber(__ENV, 'RATE', 1000)
const durationS = envNumber(__ENV, 'DURATION_S', 30)
const replayShare = envNumber(__ENV, 'REPLAY_SHARE', 0.1)
const forgedShare = envNumber(__ENV, 'FORGED_SHARE', 0.05)
const redeemP95 = envNumber(__ENV, 'REDEEM_P95_MS', 100)
const maxVUs = envNumber(__ENV, 'MAX_VUS', 2000)
const pairsFile = envString(__ENV, 'PAIRS_FILE', '')

// Loaded once, shared read-only by every VU.
const pairs = new SharedArray('redemptions', () => {
  if (!pairsFile) throw new Error('set PAIRS_FILE (make one with `npm run bench:pairs`)')
  return JSON.parse(open(pairsFile))
})

const redeemDuration = new Trend('redeem_duration', true)
const redeems = new Counter('redeems')
const forgedAccepted = new Counter('forged_accepted')
const secondUnits = new Counter('replay_new_units')
const oversold = new Counter('oversold')
const duplicateOrders = new Counter('duplicate_orders')
const invariantOk = new Rate('invariant_ok')

export const options = {
  scenarios: {
    storm: {
      executor: 'constant-arrival-rate',
      exec: 'storm',
      rate,
      timeUnit: '1s',
      duration: `${durationS}s`,
      preAllocatedVUs: Math.min(maxVUs, vusFor(rate, 0.05)),
      maxVUs,
    },
  },
  thresholds: {
    ...invariantThresholds(cfg),
    redeem_duration: [`p(95)<${redeemP95}`],
    'redeem_duration{kind:fresh}': [`p(95)<${redeemP95}`],
    forged_accepted: ['count==0'],
    'checks{step:redeem}': ['rate>0.99'],
  },
  teardownTimeout: `${cfg.settleTimeoutS + 30}s`,
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
}

function redeemUrl() {
  return target === 'core' ? `${cfg.coreUrl}/v1/redeem` : `${cfg.baseUrl}/api/sales/${cfg.saleId}/redeem`
}

export function storm() {
  const i = exec.scenario.iterationInTest
  let kind = pickRedeemKind(Math.random, replayShare, forgedShare)
  // Fresh pairs are used in order; when they run out, everything left is a replay.
  if (kind === 'fresh' && i >= pairs.length) kind = 'replay'
  if (kind === 'replay' && i === 0) kind = 'fresh'
  const pair = kind === 'fresh' ? pairs[i] : pairs[Math.floor(Math.random() * Math.min(i, pairs.length))]
  let token = pair.token
  let grant = pair.grant
  if (kind === 'forged') {
    if (Math.random() < 0.5) token = forgeSignature(token)
    else grant = forgeSignature(grant)
  }
  const res = http.post(redeemUrl(), JSON.stringify({ token, grant, paymentMethod: 'pm_card_visa' }), {
    headers: {
      'content-type': 'application/json',
      'x-floodgate-session': pair.session,
      'idempotency-key': idempotencyKey(exec.vu.idInTest, i),
    },
    tags: { name: 'redeem', kind },
  })
  redeemDuration.add(res.timings.duration, { kind })
  redeems.add(1, { kind, status: String(res.status) })
  const body = jsonOf(res)
  const verdict = judgeRedeem(kind, res.status, body)
  if (kind === 'forged' && verdict.accepted) forgedAccepted.add(1)
  if (kind === 'replay' && verdict.accepted && body && body.replayed === false) secondUnits.add(1)
  check(res, { [`${kind} redeem answered as expected`]: () => verdict.ok }, { step: 'redeem' })
}

export function teardown() {
  checkInvariantsAtTeardown(http, sleep, cfg, { oversold, duplicateOrders, invariantOk })
}
