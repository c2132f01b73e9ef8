/**
 * `npm run demo` — a complete flash sale on this machine, start to finish:
 * core + workers + edge/waiting room come up, an operator creates a sale with token-issuer, thousands of
 * simulated shoppers queue, get admitted, redeem and pay (some payments fail and their units go to the
 * next shopper in line), and the sale is checked against its invariants from Redis and Postgres.
 *
 *   npm run demo -- [--stock 1000] [--shoppers 5000] [--failure-rate 0.2] [--admit-per-minute 12000]
 *                   [--payment-latency-ms 50] [--keep] [--json]
 * With --json the last line of stdout is one JSON object.
 */
import { parseArgs } from 'node:util'
import { Agent, setGlobalDispatcher } from 'undici'
import { createSale, issuerConfig, saleInvariant, roomStats } from '../token-issuer/issuer.ts'
import { startLocalStack } from '../scripts/local-stack.ts'
import { percentile, runShoppers } from './shoppers.ts'

const { values: args } = parseArgs({
  options: {
    stock: { type: 'string', default: '1000' },
    shoppers: { type: 'string', default: '5000' },
    'failure-rate': { type: 'string', default: '0.2' },
    'admit-per-minute': { type: 'string', default: '12000' },
    'payment-latency-ms': { type: 'string', default: '50' },
    'token-ttl': { type: 'string', default: '60' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  console.log('usage: npm run demo -- [--stock N] [--shoppers N] [--failure-rate 0..1] [--admit-per-minute N] [--payment-latency-ms N] [--token-ttl S] [--keep] [--json]')
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
const { monitorEventLoopDelay } = await import('node:perf_hooks')
const loop = monitorEventLoopDelay({ resolution: 20 })
loop.enable()
try {
  const cfg = issuerConfig({
    CORE_URL: stack.coreUrl,
    EDGE_URL: stack.edgeUrl,
    CORE_ADMIN_TOKEN: stack.config.CORE_ADMIN_TOKEN,
    EDGE_ADMIN_TOKEN: stack.config.EDGE_ADMIN_TOKEN,
    TOKEN_SECRET: stack.config.TOKEN_SECRET,
  })
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
    startsAt: new Date().toISOString(),
    admitPerMinute: num('admit-per-minute'),
  })
  say(`operator created sale ${saleId}: ${created.sale.stock} units, ${created.room.tokensLoaded} purchase tokens loaded into the waiting room`)
  say(`${shoppers} shoppers join; ${Math.round(failureRate * 100)}% of payments will be declined ...`)

  let lastPrinted = 0
  const run = await runShoppers({
    edgeUrl: stack.edgeUrl,
    saleId,
    shoppers,
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
  if (process.env.DEMO_DEBUG) {
    console.error('event loop delay p50/p99/max ms', loop.percentile(50) / 1e6, loop.percentile(99) / 1e6, loop.max / 1e6)
    const text = await stack.core.metrics.registry.metrics()
    console.error(text.split('\n').filter((l) => /redeem_duration_seconds_(bucket|sum|count)|checkout_duration_seconds_(sum|count)|orders_total/.test(l)).join('\n'))
  }
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
    roomPolls: run.polls,
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
    say(`  redeem latency     p50 ${summary.redeemP50Ms} ms, p99 ${summary.redeemP99Ms} ms (through the edge)`)
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
