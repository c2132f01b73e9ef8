/**
 * `npm run demo` — a complete flash sale on this machine, start to finish:
 * core (API + workers, in this process) and the edge with its waiting room (workerd) come up, an operator
 * creates a sale with token-issuer, thousands of simulated shoppers — in a process of their own, talking HTTP
 * only — queue, get admitted, redeem and pay (some payments fail and their units go to the next shopper in
 * line), and the sale is checked against its invariants from Redis and Postgres.
 *
 *   npm run demo -- [--stock 1000] [--shoppers 5000] [--failure-rate 0.2] [--admit-per-minute 12000]
 *                   [--payment-latency-ms 50] [--token-ttl 60] [--prequeue-seconds 6] [--keep] [--verbose] [--json]
 * Shoppers arrive spread over the pre-queue window before the sale starts, as a crowd gathers before a drop.
 * With --json the last line of stdout is one JSON object. Exit code 1 unless every invariant holds, every unit
 * sold, no shopper gave up and no request was answered 5xx.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { loadSampleCatalog } from '../token-issuer/catalog.ts'
import { createSale, roomStats, saleInvariant, saleOrders } from '../token-issuer/issuer.ts'
import { startLocalStack } from '../scripts/local-stack.ts'
import { doctorAdvice } from '../scripts/doctor.ts'
import { loopDelayMs, percentile, shoppersUninformed, spawnCrowd, type ShopperResult } from './shoppers.ts'
import { numberOption } from './options.ts'
import { histogramQuantileMs } from './harness/stats.ts'

/** Last "sold out" heard minus last order confirmed, as the shoppers saw them (0 when nobody was told). */
function soldOutNoticeMs(results: ShopperResult[]): number {
  let lastConfirmed = 0
  let lastTold = 0
  for (const r of results) {
    if (r.outcome === 'confirmed') lastConfirmed = Math.max(lastConfirmed, r.endedAt ?? 0)
    if (r.outcome === 'sold_out') lastTold = Math.max(lastTold, r.endedAt ?? 0)
  }
  return Math.max(0, lastTold - lastConfirmed)
}

const USAGE =
  'usage: npm run demo -- [--stock N] [--shoppers N] [--failure-rate 0..1] [--admit-per-minute N] ' +
  '[--payment-latency-ms N] [--token-ttl S] [--prequeue-seconds S] [--keep] [--verbose] [--json]'

const { values: args } = parseArgs({
  options: {
    stock: { type: 'string', default: '1000' },
    shoppers: { type: 'string', default: '5000' },
    'failure-rate': { type: 'string', default: '0.2' },
    'admit-per-minute': { type: 'string', default: '12000' },
    'payment-latency-ms': { type: 'string', default: '50' },
    'token-ttl': { type: 'string', default: '60' },
    'prequeue-seconds': { type: 'string', default: '6' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  console.log(USAGE)
  process.exit(0)
}
const num = (name: keyof typeof args) => numberOption(args, name)
const stock = num('stock')
const shoppers = num('shoppers')
const failureRate = num('failure-rate')
const say = (line: string) => {
  if (!args.json) console.log(line)
}

const started = performance.now()
say('starting Redis/Postgres checks, core (API + workers) and the edge waiting room ...')
const stack = await startLocalStack({
  env: {
    SIM_PAYMENT_FAILURE_RATE: String(failureRate),
    SIM_PAYMENT_LATENCY_MS: String(num('payment-latency-ms')),
    HOLD_SWEEP_INTERVAL_MS: '1000',
  },
}).catch(async (error: Error) => {
  console.error(`the demo could not start its stack: ${error.message}`)
  for (const line of await doctorAdvice()) console.error(line)
  process.exit(1)
})
for (const note of stack.services.notes) say(`  note: ${note}`)
say(`  core ${stack.coreUrl}   edge ${stack.edgeUrl}`)

let exitCode = 0
// This process is core's: its event-loop delay is what a redeem waits for before core's handler runs.
const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()
try {
  const cfg = stack.issuerConfig()
  await loadSampleCatalog(cfg, say)
  const saleId = `demo-${Date.now().toString(36)}`
  const created = await createSale(cfg, {
    saleId,
    sku: 'FG-CONSOLE-1',
    name: 'Floodgate demo console',
    priceCents: 49_900,
    currency: 'USD',
    stock,
    perShopperLimit: 1,
    tokenTtlSeconds: num('token-ttl'),
    holdTtlSeconds: 60,
    startsAt: new Date(Date.now() + num('prequeue-seconds') * 1000).toISOString(),
    admitPerMinute: num('admit-per-minute'),
  })
  say(
    `operator created sale ${saleId}: ${created.sale.stock} units, ${created.room.tokensLoaded} purchase tokens loaded`,
  )
  say(
    `${shoppers} shoppers join from their own process; ${Math.round(failureRate * 100)}% of payments will be declined ...`,
  )

  const run = await spawnCrowd(
    { edgeUrl: stack.edgeUrl, saleId, shoppers, arrivalMs: Math.max(0, num('prequeue-seconds') - 1) * 1000 },
    (done) => say(`  ${done}/${shoppers} shoppers done`),
  )

  // Let the last sagas and room notifications land, then read the books.
  const deadline = Date.now() + 30_000
  let report = await saleInvariant(cfg, saleId)
  while ((report.redis.held > 0 || report.postgres.pending > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    report = await saleInvariant(cfg, saleId)
  }
  const room = await roomStats(cfg, saleId)
  const confirmedOrders = await saleOrders(cfg, saleId, 'confirmed')
  if (args.verbose) {
    const details = new Map<string, number>()
    for (const r of run.results) {
      if (r.detail && r.outcome !== 'payment_failed') {
        details.set(`${r.outcome}: ${r.detail}`, (details.get(`${r.outcome}: ${r.detail}`) ?? 0) + 1)
      }
    }
    console.error('shopper outcomes', run.byOutcome, Object.fromEntries(details))
    console.error('answers that were not a success', run.errors)
    console.error('room at the end', room)
    const windows = new Map<number, number[]>()
    for (const r of run.results) {
      if (r.redeemAt === undefined || !r.redeemMs.length) continue
      const at = Math.floor(r.redeemAt / 2000) * 2
      windows.set(at, [...(windows.get(at) ?? []), r.redeemMs[0]!])
    }
    for (const [at, list] of [...windows].sort((a, b) => a[0] - b[0])) {
      const p50 = Math.round(percentile(list, 50))
      console.error(`  t=${at}s  redeems ${list.length}  p50 ${p50} ms  p99 ${Math.round(percentile(list, 99))} ms`)
    }
  }
  const coreRedeem = await stack.core.metrics.redeemSeconds.get()
  const coreLoop = loopDelayMs(loop)
  const confirmed = report.postgres.confirmed
  const summary = {
    saleId,
    stock,
    shoppers,
    confirmed,
    oversold: Math.max(0, confirmed - stock),
    duplicateOrders: report.postgres.tokensWithTwoConfirmedOrders + report.postgres.shoppersOverLimit,
    unsold: stock - confirmed,
    paymentFailures: report.postgres.failed,
    admitted: room.admitted,
    soldOutShoppers: run.byOutcome.sold_out,
    shopperOutcomes: run.byOutcome,
    gaveUp: run.gaveUp,
    errors5xx: run.errors5xx,
    networkErrors: run.networkErrors,
    errors: run.errors,
    shoppersUninformed: shoppersUninformed(run.results, confirmedOrders),
    joinP50Ms: run.joinP50Ms,
    joinP99Ms: run.joinP99Ms,
    redeemP50Ms: run.redeemP50Ms,
    redeemP99Ms: run.redeemP99Ms,
    // From core's own histogram (bucket-interpolated, like Prometheus' histogram_quantile).
    coreRedeemP50Ms: histogramQuantileMs(coreRedeem, 0.5),
    coreRedeemP99Ms: histogramQuantileMs(coreRedeem, 0.99),
    coreEventLoopP99Ms: coreLoop.p99,
    coreEventLoopMaxMs: coreLoop.max,
    roomPolls: run.polls,
    // How long after the last order was confirmed the last queued shopper heard "sold out".
    soldOutNoticeMs: soldOutNoticeMs(run.results),
    invariantOk: report.ok,
    checks: report.checks,
    seconds: Math.round(((performance.now() - started) / 1000) * 10) / 10,
  }
  const soldOutExactly = shoppers < stock * 2 || summary.unsold === 0
  const ok =
    summary.oversold === 0 &&
    summary.duplicateOrders === 0 &&
    soldOutExactly &&
    summary.invariantOk &&
    summary.gaveUp === 0 &&
    summary.errors5xx === 0 &&
    summary.shoppersUninformed === 0
  if (!ok) exitCode = 1
  if (args.json) {
    console.log(JSON.stringify(summary))
  } else {
    const errorKinds =
      Object.entries(summary.errors)
        .map(([kind, n]) => `${kind} ×${n}`)
        .join(', ') || 'none'
    say('')
    say(`sale ${saleId} settled in ${summary.seconds}s`)
    say(`  stock              ${stock}`)
    say(`  confirmed orders   ${confirmed}`)
    say(`  oversold           ${summary.oversold}`)
    say(`  duplicate orders   ${summary.duplicateOrders}`)
    say(`  unsold             ${summary.unsold}`)
    say(`  payment failures   ${summary.paymentFailures} (their units were re-sold to the next shoppers in line)`)
    say(`  admitted           ${summary.admitted} of ${shoppers} shoppers; ${summary.soldOutShoppers} told "sold out"`)
    say(`  gave up            ${summary.gaveUp}`)
    say(`  5xx answers        ${summary.errors5xx}; lost connections ${summary.networkErrors}`)
    say(`  other answers      ${errorKinds}`)
    say(`  uninformed         ${summary.shoppersUninformed} confirmed orders whose shopper was not told so`)
    say(
      `  sold-out notice    last queued shopper told ${summary.soldOutNoticeMs} ms after the last order was confirmed`,
    )
    say(`  join latency       p50 ${summary.joinP50Ms} ms, p99 ${summary.joinP99Ms} ms through the local edge`)
    say(`  redeem latency     p50 ${summary.redeemP50Ms} ms, p99 ${summary.redeemP99Ms} ms through the local edge`)
    say(`                     p50 ${summary.coreRedeemP50Ms} ms, p99 ${summary.coreRedeemP99Ms} ms inside core`)
    say(`  core event loop    delay p99 ${summary.coreEventLoopP99Ms} ms, max ${summary.coreEventLoopMaxMs} ms`)
    for (const check of report.checks) say(`  ${check.ok ? '✓' : '✗'} ${check.name}: ${check.detail}`)
    say(ok ? 'PASS: every unit sold exactly once, every shopper answered' : 'FAIL: see the figures above')
  }
} catch (error) {
  exitCode = 1
  console.error(error instanceof Error ? error.message : error)
} finally {
  await stack.stop({ keepData: args.keep })
}
process.exit(exitCode)
