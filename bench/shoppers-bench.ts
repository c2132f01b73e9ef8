/**
 * `npm run bench:shoppers -- --target wrangler|miniflare [--rate 100] [--seconds 40] [--json]`
 *
 * Load on the developer path, in the shape of bench/k6/shoppers.js: shoppers arrive on an open model (`--rate`
 * per second for `--seconds`, after `--ramp` seconds of ramp), each joins, polls at the room's `refreshMs`,
 * redeems when admitted (one Idempotency-Key, repeated on retries) and follows its order. The shoppers run in a
 * process of their own, sending with undici's `request` (`--client fetch` for fetch, which costs the shared
 * machine about twice the CPU per request: README "Measured"). Targets:
 *   wrangler   `npm run core` + `wrangler dev`, started here as two processes (scripts/dev-stack.ts)
 *   miniflare  the demo's stack: core in this process, the edge in workerd via Miniflare
 * Prints a table per rate and, last, one JSON line (with --json). `--rates 50,100,200` runs each rate in turn and
 * reports the highest one that meets the thresholds k6 ships with (join p95 < 500 ms, redeem p95 < 250 ms, no
 * 5xx, no dropped arrivals, nobody gave up). Exit 1 if an invariant broke (oversold, duplicates, uninformed).
 * Where the time goes, per run: `edgeTimeMs` (the worker's own time, Server-Timing `edge`), `coreTimeMs` (how long
 * core took as the edge saw it, Server-Timing `core`), `crowdEventLoopDelayMs` (the load generator's own lateness)
 * and, with the Miniflare target, `coreRedeemHandlerMs` and `coreEventLoopDelayMs` (core runs in this process).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { startLocalStack } from '../scripts/local-stack.ts'
import { startDevStack } from '../scripts/dev-stack.ts'
import { createSale, saleInvariant, saleOrders, type IssuerConfig } from '../token-issuer/issuer.ts'
import { loopDelayMs, shoppersUninformed, spawnCrowd, type CrowdReport, type ShopperClient } from './shoppers.ts'
import { numberOption } from './options.ts'
import { histogramQuantileMs, type HistogramSnapshot } from './harness/stats.ts'

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'miniflare' },
    rate: { type: 'string', default: '100' },
    rates: { type: 'string' },
    seconds: { type: 'string', default: '40' },
    ramp: { type: 'string', default: '0' },
    stock: { type: 'string', default: '500' },
    shards: { type: 'string', default: '1' },
    'admit-per-minute': { type: 'string' },
    'decline-rate': { type: 'string', default: '0.2' },
    'token-ttl': { type: 'string', default: '60' },
    'hold-ms': { type: 'string', default: '0' },
    connections: { type: 'string', default: '512' },
    client: { type: 'string', default: 'request' },
    'join-p95-ms': { type: 'string', default: '500' },
    'redeem-p95-ms': { type: 'string', default: '250' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (args.help || !['wrangler', 'miniflare'].includes(args.target!) || !['request', 'fetch'].includes(args.client!)) {
  console.log(
    'usage: npm run bench:shoppers -- --target wrangler|miniflare [--rate N | --rates a,b,c] [--seconds S] [--ramp S]\n' +
      '  [--stock N] [--shards N] [--admit-per-minute N] [--decline-rate 0..1] [--token-ttl S] [--hold-ms N]\n' +
      '  [--connections N] [--client request|fetch] [--join-p95-ms 500] [--redeem-p95-ms 250] [--json]',
  )
  process.exit(args.help ? 0 : 64)
}
const num = (name: keyof typeof args) => numberOption(args, name)
const target = args.target as 'wrangler' | 'miniflare'
const rates = (args.rates ?? args.rate!).split(',').map((r) => {
  const n = Number(r)
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--rate(s) must be positive numbers, got ${r}`)
    process.exit(64)
  }
  return n
})
const say = (line: string) => {
  if (!args.json) console.log(line)
}

/** One rate's figures: the crowd's report (without its per-shopper results) and the sale's books. */
type RateResult = Omit<CrowdReport, 'results' | 'polls'> & {
  rate: number
  confirmed: number
  oversold: number
  shoppersUninformed: number
  invariantOk: boolean
  /** With `--target miniflare` (core in this process): core's event-loop delay during the run, ms. */
  coreEventLoopDelayMs?: { p50: number; p99: number; max: number }
  /** With `--target miniflare`: core's own time on a redeem (its handler, `floodgate_redeem_duration_seconds`). */
  coreRedeemHandlerMs?: { p50: number; p95: number }
  meetsThresholds: boolean
}

const handlerTimes = async (h: { get(): Promise<HistogramSnapshot> }) => {
  const snapshot = await h.get()
  return { p50: histogramQuantileMs(snapshot, 0.5), p95: histogramQuantileMs(snapshot, 0.95) }
}

async function runRate(cfg: IssuerConfig, edgeUrl: string, rate: number, index: number): Promise<RateResult> {
  const saleId = `bench-${Date.now().toString(36)}-${index}`
  const stock = num('stock')
  await createSale(cfg, {
    saleId,
    sku: 'BENCH-1',
    name: 'Bench drop',
    priceCents: 1999,
    stock,
    perShopperLimit: 1,
    tokenTtlSeconds: num('token-ttl'),
    holdTtlSeconds: 60,
    // A short pre-queue, then the sale opens while arrivals keep coming.
    startsAt: new Date(Date.now() + 2_000).toISOString(),
    admitPerMinute: args['admit-per-minute'] ? num('admit-per-minute') : Math.max(60, Math.round(rate * 60)),
    shards: num('shards'),
  })
  const loop = target === 'miniflare' ? monitorEventLoopDelay({ resolution: 10 }) : undefined
  loop?.enable()
  const coreMetrics = 'core' in stack ? stack.core.metrics : undefined
  coreMetrics?.redeemSeconds.reset()
  const report = await spawnCrowd({
    edgeUrl,
    saleId,
    rate,
    seconds: num('seconds'),
    rampSeconds: num('ramp'),
    declineRate: num('decline-rate'),
    holdMs: num('hold-ms'),
    connections: num('connections'),
    client: args.client as ShopperClient,
    maxWaitMs: 120_000,
  })
  let invariant = await saleInvariant(cfg, saleId)
  const deadline = Date.now() + 30_000
  while ((invariant.redis.held > 0 || invariant.postgres.pending > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    invariant = await saleInvariant(cfg, saleId)
  }
  const confirmed = await saleOrders(cfg, saleId, 'confirmed')
  const joinLimit = num('join-p95-ms')
  const redeemLimit = num('redeem-p95-ms')
  const { results: shoppers, polls: _polls, ...figures } = report
  const result: RateResult = {
    rate,
    ...figures,
    confirmed: invariant.postgres.confirmed,
    oversold: Math.max(0, invariant.postgres.confirmed - stock),
    shoppersUninformed: shoppersUninformed(shoppers, confirmed),
    invariantOk: invariant.ok,
    ...(loop ? { coreEventLoopDelayMs: loopDelayMs(loop) } : {}),
    ...(coreMetrics ? { coreRedeemHandlerMs: await handlerTimes(coreMetrics.redeemSeconds) } : {}),
    meetsThresholds: false,
  }
  result.meetsThresholds =
    result.joinP95Ms < joinLimit &&
    result.redeemP95Ms < redeemLimit &&
    result.errors5xx === 0 &&
    result.droppedArrivals === 0 &&
    result.gaveUp === 0
  return result
}

say(`starting the ${target === 'wrangler' ? '`npm run core` + `wrangler dev`' : 'Miniflare'} stack ...`)
const coreEnv = { SIM_PAYMENT_FAILURE_RATE: '0', HOLD_SWEEP_INTERVAL_MS: '1000' }
const stack = target === 'wrangler' ? await startDevStack({ coreEnv }) : await startLocalStack({ env: coreEnv })
const cfg = stack.issuerConfig()
const results: RateResult[] = []
let exitCode = 0
try {
  for (const [i, rate] of rates.entries()) {
    say(`  ${rate} arrivals/s for ${num('seconds')} s ...`)
    const r = await runRate(cfg, stack.edgeUrl, rate, i)
    results.push(r)
    if (r.oversold > 0 || !r.invariantOk || r.shoppersUninformed > 0) exitCode = 1
    say(
      `  rate ${r.rate}/s: ${r.shoppers} shoppers, join p50/p95/p99 ${r.joinP50Ms}/${r.joinP95Ms}/${r.joinP99Ms} ms, ` +
        `redeem p50/p95/p99 ${r.redeemP50Ms}/${r.redeemP95Ms}/${r.redeemP99Ms} ms, 5xx ${r.errors5xx}, ` +
        `network ${r.networkErrors}, dropped ${r.droppedArrivals}, gave up ${r.gaveUp}, confirmed ${r.confirmed}, ` +
        `oversold ${r.oversold}, uninformed ${r.shoppersUninformed}, ${r.meetsThresholds ? 'meets' : 'MISSES'} the thresholds`,
    )
    say(
      `    requests ${JSON.stringify(r.requests)} (${r.requestsPerSecond}/s); edge's own time ${JSON.stringify(r.edgeTimeMs)}`,
    )
    say(
      `    core's time as the edge saw it ${JSON.stringify(r.coreTimeMs)}` +
        (r.coreEventLoopDelayMs ? `; core's event-loop delay ${JSON.stringify(r.coreEventLoopDelayMs)} ms` : '') +
        (r.coreRedeemHandlerMs ? `; core's redeem handler ${JSON.stringify(r.coreRedeemHandlerMs)} ms` : '') +
        `; the crowd's own event-loop delay ${JSON.stringify(r.crowdEventLoopDelayMs)} ms, ` +
        `CPU ${r.crowdCpuUsPerRequest} µs per request (${args.client})`,
    )
    if (Object.keys(r.errors).length) say(`    answers that were not a success: ${JSON.stringify(r.errors)}`)
  }
} finally {
  await stack.stop()
}
const best = results
  .filter((r) => r.meetsThresholds)
  .reduce<number | null>((m, r) => (m === null || r.rate > m ? r.rate : m), null)
say(best === null ? 'no rate met the thresholds' : `highest rate meeting the thresholds: ${best}/s`)
if (args.json) {
  const last = results.at(-1)!
  const { byOutcome: _b, errors: _e, requests: _r, ...figures } = last
  console.log(
    JSON.stringify({ target, client: args.client, ...figures, highestRateMeetingThresholds: best, runs: results }),
  )
}
process.exit(exitCode)
