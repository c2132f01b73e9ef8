/**
 * `npm run demo` — a complete flash sale on this machine, start to finish:
 * core + workers + edge/waiting room come up, an operator creates a sale with token-issuer, thousands of
 * simulated shoppers queue, get admitted, redeem and pay (some payments fail and their units go to the
 * next shopper in line), and the sale is checked against its invariants from Redis and Postgres.
 *
 *   npm run demo -- [--stock 1000] [--shoppers 5000] [--failure-rate 0.2] [--admit-per-minute 12000]
 *                   [--payment-latency-ms 50] [--token-ttl 60] [--prequeue-seconds 6] [--keep] [--verbose] [--json]
 * Shoppers arrive spread over the pre-queue window before the sale starts, as a crowd gathers before a drop.
 * With --json the last line of stdout is one JSON object.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Agent, setGlobalDispatcher } from 'undici'
import { createSale, saleInvariant, roomStats } from '../token-issuer/issuer.ts'
import { loadSampleCatalog } from '../token-issuer/catalog.ts'
import { startLocalStack } from '../scripts/local-stack.ts'
import { percentile, runShoppers, type ShopperResult } from './shoppers.ts'

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
  console.log('usage: npm run demo -- [--stock N] [--shoppers N] [--failure-rate 0..1] [--admit-per-minute N] [--payment-latency-ms N] [--token-ttl S] [--prequeue-seconds S] [--keep] [--verbose] [--json]')
  process.exit(0)
}
const num = (name: keyof typeof args) => {
  const value = Number(args[name])
  if (!Number.isFinite(value) || value < 0) {
    console.error(`--${name} must be a non-negative number`)
    process.exit(64)
  }
  return value
}
const stock = num('stock')
const shoppers = num('shoppers')
const failureRate = num('failure-rate')
/** q-quantile of a prom-client histogram in ms, interpolated within its bucket. */
function histogramQuantileMs(metric: Awaited<ReturnType<typeof stack.core.metrics.redeemSeconds.get>>, q: number): number {
  const buckets = metric.values.filter((v) => v.metricName?.endsWith('_bucket')).map((v) => ({ le: Number(v.labels.le), count: v.value }))
  const total = buckets.at(-1)?.count ?? 0
  if (!total) return 0
  const rank = q * total
  let previous = { le: 0, count: 0 }
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return Math.round(previous.le * 1000)
      const within = (rank - previous.count) / Math.max(1, bucket.count - previous.count)
      return Math.round((previous.le + (bucket.le - previous.le) * within) * 10_000) / 10
    }
    previous = bucket
  }
  return Math.round(previous.le * 1000)
}
const say = (line: string) => {
  if (!args.json) console.log(line)
}

// Thousands of simulated browsers share one process: keep-alive, bounded sockets.
setGlobalDispatcher(new Agent({ connections: 256, keepAliveTimeout: 10_000 }))

const started = performance.now()
say('starting Redis/Postgres checks, core (API + workers) and the edge waiting room ...')
const stack = await startLocalStack({
  env: {
    SIM_PAYMENT_FAILURE_RATE: String(failureRate),
    SIM_PAYMENT_LATENCY_MS: String(num('payment-latency-ms')),
    HOLD_SWEEP_INTERVAL_MS: '1000',
  },
})
for (const note of stack.services.notes) say(`  note: ${note}`)
say(`  core ${stack.coreUrl}   edge ${stack.edgeUrl}`)

let exitCode = 0
const loop = monitorEventLoopDelay({ resolution: 20 })
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
  say(`operator created sale ${saleId}: ${created.sale.stock} units, ${created.room.tokensLoaded} purchase tokens loaded into the waiting room`)
  say(`${shoppers} shoppers join; ${Math.round(failureRate * 100)}% of payments will be declined ...`)

  let lastPrinted = 0
  const run = await runShoppers({
    edgeUrl: stack.edgeUrl,
    saleId,
    shoppers,
    arrivalMs: Math.max(0, num('prequeue-seconds') - 1) * 1000,
    onResult: (_r, done) => {
      if (!args.json && (done === shoppers || performance.now() - lastPrinted > 2000)) {
        lastPrinted = performance.now()
        say(`  ${done}/${shoppers} shoppers done`)
      }
    },
  })

  // Let the last sagas and room notifications land, then read the books.
  const deadline = Date.now() + 30_000
  let report = await saleInvariant(cfg, saleId)
  while ((report.redis.held > 0 || report.postgres.pending > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    report = await saleInvariant(cfg, saleId)
  }
  const room = await roomStats(cfg, saleId)
  if (args.verbose) {
    const details = new Map<string, number>()
    for (const r of run.results) if (r.detail && r.outcome !== 'payment_failed') details.set(`${r.outcome}: ${r.detail}`, (details.get(`${r.outcome}: ${r.detail}`) ?? 0) + 1)
    console.error('shopper outcomes', run.byOutcome, Object.fromEntries(details))
    console.error('room at the end', room)
    console.error(`demo process event-loop delay ms: p50 ${(loop.percentile(50) / 1e6).toFixed(1)} p99 ${(loop.percentile(99) / 1e6).toFixed(1)} max ${(loop.max / 1e6).toFixed(1)}`)
    const windows = new Map<number, number[]>()
    for (const r of run.results) {
      if (r.redeemAt === undefined) continue
      const at = Math.floor(r.redeemAt / 2000) * 2
      windows.set(at, [...(windows.get(at) ?? []), r.redeemMs!])
    }
    for (const [at, list] of [...windows].sort((a, b) => a[0] - b[0])) {
      console.error(`  t=${at}s  redeems ${list.length}  p50 ${Math.round(percentile(list, 50))} ms  p99 ${Math.round(percentile(list, 99))} ms`)
    }
  }
  const coreRedeem = await stack.core.metrics.redeemSeconds.get()
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
    redeemP50Ms: Math.round(percentile(run.redeemMs, 50) * 10) / 10,
    redeemP99Ms: Math.round(percentile(run.redeemMs, 99) * 10) / 10,
    joinP99Ms: Math.round(percentile(run.joinMs, 99) * 10) / 10,
    // From core's own histogram (bucket-interpolated, like Prometheus' histogram_quantile).
    coreRedeemP50Ms: histogramQuantileMs(coreRedeem, 0.5),
    coreRedeemP99Ms: histogramQuantileMs(coreRedeem, 0.99),
    roomPolls: run.polls,
    // How long after the last order was confirmed the last queued shopper heard "sold out" (shoppers poll at the
    // suggested interval here; held polls, `?waitMs=`, bring this to about a second: bench:waiting-room).
    soldOutNoticeMs: soldOutNoticeMs(run.results),
    invariantOk: report.ok,
    checks: report.checks,
    seconds: Math.round(((performance.now() - started) / 1000) * 10) / 10,
  }
  const ok = summary.oversold === 0 && summary.duplicateOrders === 0 && (shoppers < stock * 2 || summary.unsold === 0) && summary.invariantOk
  if (!ok) exitCode = 1
  if (args.json) {
    console.log(JSON.stringify(summary))
  } else {
    say('')
    say(`sale ${saleId} settled in ${summary.seconds}s`)
    say(`  stock              ${stock}`)
    say(`  confirmed orders   ${confirmed}`)
    say(`  oversold           ${summary.oversold}`)
    say(`  duplicate orders   ${summary.duplicateOrders}`)
    say(`  unsold             ${summary.unsold}`)
    say(`  payment failures   ${summary.paymentFailures} (their units were re-sold to the next shoppers in line)`)
    say(`  admitted           ${summary.admitted} of ${shoppers} shoppers; ${summary.soldOutShoppers} told "sold out"`)
    say(`  sold-out notice    last queued shopper told ${summary.soldOutNoticeMs} ms after the last order was confirmed`)
    say(`  redeem latency     p50 ${summary.redeemP50Ms} ms, p99 ${summary.redeemP99Ms} ms through the local edge (one workerd isolate)`)
    say(`                     p50 ${summary.coreRedeemP50Ms} ms, p99 ${summary.coreRedeemP99Ms} ms inside core`)
    for (const check of report.checks) say(`  ${check.ok ? '✓' : '✗'} ${check.name}: ${check.detail}`)
    say(ok ? 'PASS: every unit sold exactly once' : 'FAIL: see the checks above')
  }
} catch (error) {
  exitCode = 1
  console.error(error instanceof Error ? error.message : error)
} finally {
  await stack.stop({ keepData: args.keep })
}
process.exit(exitCode)
