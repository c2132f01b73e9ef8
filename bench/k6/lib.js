// Shared helpers of Floodgate's k6 scenarios. Plain ES module with NO imports: k6 modules (http,
// sleep) are passed in as arguments, so the same file runs in k6 and under vitest
// (bench/k6/k6-scripts.test.ts), where these functions are unit-tested.

export const DEV_CORE_ADMIN_TOKEN = 'dev-only-core-admin-change-me-0123456789abcdef'

/** Reads a string setting from k6's `__ENV`. */
export function envString(env, name, fallback) {
  const v = env[name]
  return v === undefined || v === '' ? fallback : String(v)
}

/** Reads a number setting; refuses anything that is not a finite number. */
export function envNumber(env, name, fallback) {
  const v = env[name]
  if (v === undefined || v === '') return fallback
  const n = Number(v)
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(v)}`)
  return n
}

/** Settings every scenario shares (see bench/README.md). */
export function commonConfig(env) {
  return {
    baseUrl: envString(env, 'BASE_URL', 'http://127.0.0.1:8787').replace(/\/$/, ''),
    coreUrl: envString(env, 'CORE_URL', 'http://127.0.0.1:3000').replace(/\/$/, ''),
    saleId: envString(env, 'SALE_ID', 'drop-1'),
    adminToken: envString(env, 'CORE_ADMIN_TOKEN', DEV_CORE_ADMIN_TOKEN),
    settleTimeoutS: envNumber(env, 'SETTLE_TIMEOUT_S', 60),
    maxDropped: envNumber(env, 'MAX_DROPPED', 0),
  }
}

/**
 * Headers of one simulated shopper's requests: `x-floodgate-client` (a script sends no Origin, and the edge wants
 * a same-origin signal on join and redeem) and its own client address in `cf-connecting-ip`, so a crowd from one
 * load generator is many networks to the edge's per-network limits. `wrangler dev` keeps that header; Cloudflare
 * replaces it with the real address (against a deployment, raise the limits for the test instead: README).
 */
export function shopperHeaders(random = Math.random) {
  const n = 1 + Math.floor(random() * 0xfffffe)
  return { 'x-floodgate-client': 'k6', 'cf-connecting-ip': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` }
}

/** `refreshMs` spread ±`spread` (default ±20%) so thousands of pollers never ask in lockstep. */
export function jitteredMs(refreshMs, spread = 0.2, random = Math.random) {
  const base = Number.isFinite(refreshMs) && refreshMs > 0 ? refreshMs : 1000
  return Math.round(base * (1 - spread + 2 * spread * random()))
}

/** Arrival-rate stages: 0 → `rate` iterations/s in `rampS`, hold for `holdS`, then back to 0 in `downS`. */
export function spikeStages(rate, rampS = 10, holdS = 30, downS = 5) {
  const stages = [{ target: rate, duration: `${rampS}s` }]
  if (holdS > 0) stages.push({ target: rate, duration: `${holdS}s` })
  if (downS > 0) stages.push({ target: 0, duration: `${downS}s` })
  return stages
}

/** VUs an arrival-rate executor needs: rate × expected iteration seconds, with headroom. */
export function vusFor(rate, iterationSeconds, headroom = 1.5) {
  return Math.max(1, Math.ceil(rate * iterationSeconds * headroom))
}

/**
 * Breaks the HMAC of a signed token or grant (`<prefix>.<payload>.<mac>`) by changing one character
 * of the MAC: same shape, wrong signature. Core must answer 403 `*_bad_signature`.
 */
export function forgeSignature(signed) {
  const dot = signed.lastIndexOf('.')
  if (dot < 0 || dot === signed.length - 1) return `${signed}.AAAA`
  const mac = signed.slice(dot + 1)
  const swapped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1)
  return `${signed.slice(0, dot + 1)}${swapped}`
}

/** Which kind of redeem request the storm sends next: a fresh pair, a replay of one, or a forgery. */
export function pickRedeemKind(random, replayShare, forgedShare) {
  const r = random()
  if (r < forgedShare) return 'forged'
  if (r < forgedShare + replayShare) return 'replay'
  return 'fresh'
}

/** An Idempotency-Key unique per VU and iteration (8-255 chars of A-Za-z0-9_.:-). */
export function idempotencyKey(vu, iteration, random = Math.random) {
  return `k6-${vu}-${iteration}-${Math.floor(random() * 1e9).toString(36)}`
}

/**
 * Judges one redeem answer for the storm. `fresh`: 202 (held or replayed) or 409 (sold out, limit);
 * `replay`: 202 with the same order, 409 token_used/sold_out, or 429 (the edge's per-shopper redeem
 * limit), never a second unit; `forged`: 4xx. A 429 on a fresh pair means the edge's per-address limit
 * (REDEEM_PER_IP_PER_SECOND) is throttling the load generator: raise it for the test (bench/README.md).
 */
export function judgeRedeem(kind, status, body) {
  if (kind === 'forged')
    return { ok: status === 403 || status === 400 || status === 429, accepted: status >= 200 && status < 300 }
  if (status === 202) return { ok: body !== null && typeof body.orderId === 'string', accepted: true }
  if (kind === 'replay' && status === 429) return { ok: true, accepted: false }
  return { ok: status === 409 || status === 410, accepted: false }
}

/** What the thresholds need from core's invariant report (`GET /admin/sales/:id/invariant`). */
export function invariantFindings(report) {
  if (!report || typeof report.stock !== 'number' || !report.postgres) {
    return { readable: false, ok: false, oversold: 0, duplicates: 0, pending: 0 }
  }
  const pg = report.postgres
  return {
    readable: true,
    ok: report.ok === true,
    oversold: Math.max(0, pg.confirmed - report.stock, pg.soldCounter - report.stock),
    duplicates: pg.tokensWithTwoConfirmedOrders,
    pending: pg.pending,
  }
}

/** Reads the invariant report with the operator's token; null when core does not answer 200. */
export function readInvariant(http, cfg) {
  const res = http.get(`${cfg.coreUrl}/admin/sales/${cfg.saleId}/invariant`, {
    headers: { authorization: `Bearer ${cfg.adminToken}` },
    tags: { name: 'invariant' },
  })
  if (res.status !== 200) return null
  try {
    return JSON.parse(res.body)
  } catch (_) {
    return null
  }
}

/**
 * Teardown: waits (up to SETTLE_TIMEOUT_S) until no order is pending, then records what the
 * thresholds check: `oversold` and `duplicate_orders` (counters that must stay 0) and `invariant_ok`
 * (a rate that must be 1). An unreadable report fails `invariant_ok`.
 */
export function checkInvariantsAtTeardown(http, sleep, cfg, metrics) {
  const deadline = Date.now() + cfg.settleTimeoutS * 1000
  let findings = invariantFindings(readInvariant(http, cfg))
  while (findings.readable && findings.pending > 0 && Date.now() < deadline) {
    sleep(1)
    findings = invariantFindings(readInvariant(http, cfg))
  }
  metrics.oversold.add(findings.oversold)
  metrics.duplicateOrders.add(findings.duplicates)
  metrics.invariantOk.add(findings.readable && findings.ok)
  return findings
}

/** The thresholds every scenario carries: the invariants and dropped iterations. */
export function invariantThresholds(cfg) {
  return {
    oversold: ['count==0'],
    duplicate_orders: ['count==0'],
    invariant_ok: ['rate==1'],
    dropped_iterations: [`count<=${cfg.maxDropped}`],
  }
}

/** Parses a JSON body, or null. */
export function jsonOf(res) {
  try {
    return JSON.parse(res.body)
  } catch (_) {
    return null
  }
}
