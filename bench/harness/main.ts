/**
 * `npm run bench` — Floodgate's redeem path against the designs people would otherwise use, side by side
 * in one run on the same Redis and Postgres (see BENCHMARKS.md for what each number means):
 *
 *  1. Floodgate redeem (`POST /v1/redeem`: token + grant verify, redeemToken-8.lua (hold + checkout outbox), batched forward into BullMQ),
 *     core API as its own process: full speed (closed loop) and a fixed 5,000/s (open loop).
 *  2. The same checkout on one hot SKU with Postgres `SELECT … FOR UPDATE`.
 *  3. The same with a Redis lock per product (seed 004 §6).
 *  4. The raw ceiling: redis-benchmark EVALSHA of the stock script.
 *  5. Settled orders/s into Postgres: core workers (own process) draining the checkouts step 1 queued,
 *     through the simulated gateway.
 *  Core RSS and CPU are sampled from /proc throughout.
 *
 * Options: --json (last line: one JSON object), --duration S (each measured phase, default 10),
 * --rate N (fixed-rate phase, default 5000), --connections N (closed-loop callers, default 64),
 * --settle-seconds S (default 10), --checkout-concurrency N (default 1000), --payment-latency-ms N
 * (default 50), --db-pool N (core's DATABASE_POOL_SIZE, default 20), --api-processes N (core API processes, each on
 * its own port, the load spread over them as a load balancer would; default: one per core, at most 2), --skip baselines,evalsha, --cpu-prof (profile core
 * processes, summary printed, files kept in bench/.profiles/), --quick (tiny scale, for the test).
 * Services: REDIS_URL, DATABASE_URL as everywhere; each run uses its own schema and key prefix and
 * removes them at the end.
 */
import { spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import pg from 'pg'
import { InvariantReport } from '../../contracts/index.ts'
import { dropRedisPrefix, ensureServices, freePort } from '../../scripts/services.ts'
import { evalshaCeiling } from './evalsha.ts'
import { closedLoop, createPool, openLoop, type LoadResult } from './load.ts'
import { mintRedemptions, requestSource } from './pairs.ts'
import {
  CpuAccount,
  formatCpu,
  ResourceSampler,
  startNode,
  waitHealthy,
  type CpuSnapshot,
  type NodeProcess,
} from './processes.ts'
import { formatWaits, PgWaitSampler } from './pg-waits.ts'
import { callersOf, summarizeProfile } from './profile.ts'
import { checkTargets, formatReport, ratios, type BenchNumbers } from './report.ts'

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rate: { type: 'string' },
    connections: { type: 'string' },
    'settle-seconds': { type: 'string' },
    'checkout-concurrency': { type: 'string' },
    'payment-latency-ms': { type: 'string' },
    'db-pool': { type: 'string' },
    'api-processes': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    skip: { type: 'string', default: '' },
  },
})

const quick = args.quick
const opt = (name: string | undefined, full: number, tiny: number) =>
  name !== undefined ? Number(name) : quick ? tiny : full
const cfg = {
  durationMs: opt(args.duration, 10, 1) * 1000,
  warmupMs: quick ? 300 : 3000,
  rate: opt(args.rate, 5000, 200),
  connections: opt(args.connections, 64, 8),
  settleMs: opt(args['settle-seconds'], 10, 1) * 1000,
  checkoutConcurrency: opt(args['checkout-concurrency'], 1000, 16),
  paymentLatencyMs: opt(args['payment-latency-ms'], 50, 2),
  dbPool: opt(args['db-pool'], 20, 5),
  /** Core API processes, each its own `ROLE=api` process on its own port; the load generator spreads over them. */
  apiProcesses: opt(args['api-processes'], Math.min(2, cpus().length), 1),
  evalshaRequests: quick ? 5_000 : 300_000,
  /** Pre-minted redemptions per second of closed-loop phase: above any rate this box reaches. */
  fullSpeedCap: quick ? 2_000 : 25_000,
  baselineCap: quick ? 1_000 : 8_000,
}

/** Phases left out with --skip (comma list): baselines, evalsha. Their numbers are then 0. */
const skip = new Set(args.skip!.split(',').filter(Boolean))
const say = (line: string) => (args.json ? process.stderr : process.stdout).write(`${line}\n`)
const RUN = randomBytes(4).toString('hex')
const SCHEMA = `bench_${RUN}`
const PREFIX = `fgb${RUN}`
const SALE_ID = `bench-${RUN}`
const PROFILE_DIR = join(process.cwd(), 'bench', '.profiles', RUN)

/** The core entry point to measure; override (BENCH_CORE_MAIN=path) to A/B a patched copy of core. */
const CORE_MAIN = process.env.BENCH_CORE_MAIN ?? 'core/main.ts'
const APPLICATION_NAME = `floodgate-bench-${RUN}`
/**
 * V8 flags of the API processes, as docker-compose.yml runs them: a larger young generation means fewer scavenges
 * for a server that allocates a little per request. BENCH_API_NODE_ARGS='' runs them without.
 */
const API_NODE_ARGS = (process.env.BENCH_API_NODE_ARGS ?? '--max-semi-space-size=32').split(' ').filter(Boolean)

function schemaUrl(databaseUrl: string, schema: string): string {
  const url = new URL(databaseUrl)
  url.searchParams.set('options', `-c search_path=${schema}`)
  url.searchParams.set('application_name', APPLICATION_NAME)
  return url.toString()
}

/** Stands in for the edge: core reports token outcomes here during settlement. Counts them, answers 200. */
async function outcomeSink(): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let count = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      count++
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"applied":1}')
    })
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => count,
    close: () => new Promise((r) => server.close(() => r())),
  }
}

/** Cores used / operations per second = CPU seconds per operation. */
const perOp = (cores: number | undefined, perSec: number) => (cores !== undefined && perSec > 0 ? cores / perSec : 0)

function describe(name: string, r: LoadResult): string {
  const statuses = Object.entries(r.statuses)
    .map(([s, n]) => `${s}:${n}`)
    .join(' ')
  const lat = r.latencyFromIntended ?? r.latency
  return `  ${name}: ${Math.round(r.okPerSec)}/s ok of ${Math.round(r.perSec)}/s sent over ${r.seconds.toFixed(1)} s, p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms [${statuses}]`
}

/** Redis's own pid when it runs on this machine (for its CPU share), else null. */
async function localRedisPid(redis: Redis): Promise<number | null> {
  const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1])
  try {
    return pid && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server') ? pid : null
  } catch {
    return null
  }
}

async function main(): Promise<void> {
  const services = await ensureServices({ allowEmbedded: false })
  const redisUrl = new URL(services.redisUrl)
  const redis = new Redis(services.redisUrl, { maxRetriesPerRequest: null })
  const admin = new pg.Client({ connectionString: services.databaseUrl })
  await admin.connect()
  await admin.query(`CREATE SCHEMA "${SCHEMA}"`)
  const databaseUrl = schemaUrl(services.databaseUrl, SCHEMA)
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  const sink = await outcomeSink()
  const procs: NodeProcess[] = []
  /** Core processes started with --cpu-prof, to name their profiles. */
  const profiled: NodeProcess[] = []
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []
  if (args['cpu-prof']) mkdirSync(PROFILE_DIR, { recursive: true })

  const secrets = {
    TOKEN_SECRET: randomBytes(24).toString('hex'),
    GRANT_SECRET: randomBytes(24).toString('hex'),
    CORE_INTERNAL_TOKEN: randomBytes(24).toString('hex'),
  }
  const adminToken = randomBytes(16).toString('hex')
  const coreEnv = (role: string, port: number): Record<string, string> => ({
    NODE_ENV: 'test',
    ROLE: role,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    REDIS_URL: services.redisUrl,
    REDIS_PREFIX: PREFIX,
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: String(cfg.dbPool),
    EDGE_URL: sink.url,
    CORE_ADMIN_TOKEN: adminToken,
    SIM_PAYMENT_LATENCY_MS: String(cfg.paymentLatencyMs),
    SIM_PAYMENT_FAILURE_RATE: '0',
    CHECKOUT_CONCURRENCY: String(cfg.checkoutConcurrency),
    HOLD_SWEEP_INTERVAL_MS: '3600000',
    ...secrets,
  })

  const sampler = new ResourceSampler(() => procs).start()
  const redisPid = await localRedisPid(redis)
  const account = new CpuAccount(() => procs, redisPid)
  const phaseCpu: Record<string, Record<string, number>> = {}
  const phaseWaits: Record<string, Array<{ wait: string; backends: number }>> = {}
  const waitsDb = new pg.Client({ connectionString: services.databaseUrl })
  await waitsDb.connect()
  /** Runs one measured phase and records who used the CPU and what Postgres waited on meanwhile. */
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const waits = new PgWaitSampler(waitsDb, APPLICATION_NAME).start()
    const before: CpuSnapshot = account.snapshot()
    const result = await fn()
    phaseCpu[name] = CpuAccount.between(before, account.snapshot())
    phaseWaits[name] = waits.stop()
    say(`    cpu (cores): ${formatCpu(phaseCpu[name]!)}`)
    if (phaseWaits[name]!.length) say(`    postgres active backends by wait: ${formatWaits(phaseWaits[name]!)}`)
    return result
  }
  const cleanup = async () => {
    sampler.stop()
    await Promise.all(procs.map((p) => p.stop()))
    await sink.close()
    await db.end().catch(() => {})
    await waitsDb.end().catch(() => {})
    await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => {})
    await admin.end().catch(() => {})
    await dropRedisPrefix(redis, PREFIX).catch(() => {})
    redis.disconnect()
    await services.stop()
  }

  try {
    say(
      `floodgate bench ${RUN}: ${cpus().length} cores, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, schema ${SCHEMA}, prefix ${PREFIX}`,
    )

    // ---- 1. Floodgate redeem
    const apis: NodeProcess[] = []
    const apiUrls: string[] = []
    for (let i = 0; i < cfg.apiProcesses; i++) {
      const port = await freePort()
      const api = startNode(
        cfg.apiProcesses === 1 ? 'core-api' : `core-api-${i + 1}`,
        CORE_MAIN,
        coreEnv('api', port),
        [...nodeArgs, ...API_NODE_ARGS],
      )
      procs.push(api)
      profiled.push(api)
      apis.push(api)
      apiUrls.push(`http://127.0.0.1:${port}`)
    }
    for (const [i, api] of apis.entries()) await waitHealthy(api, `${apiUrls[i]}/healthz`)
    const coreUrl = apiUrls[0]!
    /** Summed over the API processes. */
    const apiCpu = (cpu: Record<string, number> | undefined) =>
      cpu ? apis.reduce((n, p) => n + (cpu[p.name] ?? 0), 0) : undefined
    const created = await fetch(`${coreUrl}/admin/sales`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        saleId: SALE_ID,
        sku: 'HOT-1',
        name: 'Benchmark drop',
        priceCents: 4999,
        stock: 1_000_000,
        holdTtlSeconds: 3600,
        tokenTtlSeconds: 3600,
        startsAt: new Date().toISOString(),
      }),
    })
    if (created.status !== 201) throw new Error(`could not create the sale: ${created.status} ${await created.text()}`)

    const fullCount = Math.round(((cfg.warmupMs + cfg.durationMs) / 1000) * cfg.fullSpeedCap)
    const fixedCount = Math.ceil((cfg.durationMs / 1000) * cfg.rate) + 100
    const t = performance.now()
    const redemptions = mintRedemptions({
      tokenSecret: secrets.TOKEN_SECRET,
      grantSecret: secrets.GRANT_SECRET,
      saleId: SALE_ID,
      count: fullCount + fixedCount,
    })
    say(
      `  minted ${redemptions.length.toLocaleString('en-US')} token + grant pairs in ${Math.round(performance.now() - t)} ms`,
    )
    const fullSource = requestSource(redemptions.slice(0, fullCount), secrets.CORE_INTERNAL_TOKEN)
    const fixedSource = requestSource(redemptions.slice(fullCount), secrets.CORE_INTERNAL_TOKEN)
    const corePool = createPool(apiUrls, cfg.connections)
    const okRedeem = (s: number) => s === 202

    const fullSpeed = (durationMs: number) =>
      closedLoop(corePool, { next: fullSource.next, okStatus: okRedeem, durationMs, concurrency: cfg.connections })

    await fullSpeed(cfg.warmupMs)
    const full = await phase('redeemFullSpeed', async () => {
      const result = await fullSpeed(cfg.durationMs)
      say(describe('redeem, full speed', result))
      return result
    })
    if (fullSource.used() >= fullCount) say('  (ran out of pre-minted redemptions: raise fullSpeedCap)')
    await sleep(quick ? 100 : 1000)
    const fixed = await phase('redeemFixedRate', async () => {
      const result = await openLoop(corePool, {
        next: fixedSource.next,
        okStatus: okRedeem,
        durationMs: cfg.durationMs,
        rate: cfg.rate,
      })
      say(describe(`redeem at ${cfg.rate}/s`, result))
      return result
    })
    await corePool.close()
    const apiRssMb = Math.max(...apis.map((p) => sampler.peakRssMb.get(p.name) ?? 0))

    // ---- 2 + 3. Baselines
    await db.query(`CREATE TABLE inventory (sku text PRIMARY KEY, stock integer NOT NULL CHECK (stock >= 0))`)
    await db.query(`CREATE TABLE reservations (order_id text PRIMARY KEY, sku text NOT NULL REFERENCES inventory (sku), token_id text NOT NULL UNIQUE,
                      shopper text NOT NULL, expires_at timestamptz NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`)
    await db.query(`INSERT INTO inventory (sku, stock) VALUES ('hot-row-lock', 1000000), ('hot-redis-lock', 1000000)`)
    const basePort = await freePort()
    const base = startNode('baseline', 'bench/harness/baseline-server.ts', {
      PORT: String(basePort),
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: String(cfg.dbPool),
      REDIS_URL: services.redisUrl,
      LOCK_PREFIX: PREFIX,
      ...secrets,
    })
    procs.push(base)
    const baseUrl = `http://127.0.0.1:${basePort}`
    await waitHealthy(base, `${baseUrl}/healthz`)
    const basePool = createPool(baseUrl, cfg.connections)
    const baseline = async (name: string, sku: string, path: string) => {
      const count = Math.round(((cfg.warmupMs + cfg.durationMs) / 1000) * cfg.baselineCap)
      const source = requestSource(
        mintRedemptions({ tokenSecret: secrets.TOKEN_SECRET, grantSecret: secrets.GRANT_SECRET, saleId: sku, count }),
        secrets.CORE_INTERNAL_TOKEN,
        path,
      )
      await closedLoop(basePool, {
        next: source.next,
        okStatus: okRedeem,
        durationMs: cfg.warmupMs,
        concurrency: cfg.connections,
      })
      return phase(name, async () => {
        const result = await closedLoop(basePool, {
          next: source.next,
          okStatus: okRedeem,
          durationMs: cfg.durationMs,
          concurrency: cfg.connections,
        })
        say(describe(name, result))
        return result
      })
    }
    const rowLock = skip.has('baselines') ? undefined : await baseline('rowLock', 'hot-row-lock', '/row-lock/redeem')
    const redisLock = skip.has('baselines')
      ? undefined
      : await baseline('redisLock', 'hot-redis-lock', '/redis-lock/redeem')
    await basePool.close()
    await base.stop()
    procs.splice(procs.indexOf(base), 1)
    const held = await db.query<{ sku: string; n: number; stock: number }>(
      `SELECT i.sku, i.stock, (SELECT count(*) FROM reservations r WHERE r.sku = i.sku)::int AS n FROM inventory i`,
    )
    for (const row of held.rows) {
      if (row.stock + row.n !== 1_000_000)
        throw new Error(`baseline ${row.sku} lost units: stock ${row.stock} + reservations ${row.n} != 1000000`)
    }

    // ---- 4. EVALSHA ceiling
    const hasRedisBenchmark = spawnSync('sh', ['-c', 'command -v redis-benchmark']).status === 0
    if (!hasRedisBenchmark && !skip.has('evalsha'))
      say('  redis-benchmark is not installed (it comes with redis-server / redis-tools): no EVALSHA ceiling')
    const evalsha =
      skip.has('evalsha') || !hasRedisBenchmark
        ? { perSec: 0, command: 'skipped' }
        : await phase('evalsha', async () => {
            const result = await evalshaCeiling(redis, {
              host: redisUrl.hostname,
              port: Number(redisUrl.port || 6379),
              prefix: PREFIX,
              requests: cfg.evalshaRequests,
            })
            say(
              `  redis-benchmark EVALSHA redeemToken-8: ${Math.round(result.perSec)}/s (${result.clients} clients, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms)`,
            )
            return result
          })

    // ---- 5. Settlement: workers drain the checkouts the redeem phases queued.
    const backlog = full.ok + fixed.ok
    const worker = startNode('core-worker', CORE_MAIN, coreEnv('worker', 0), nodeArgs)
    procs.push(worker)
    profiled.push(worker)
    const settled = async () =>
      Number(
        (await db.query(`SELECT count(*)::int AS n FROM orders WHERE sale_id = $1 AND status <> 'PENDING'`, [SALE_ID]))
          .rows[0].n,
      )
    const startedAt = Date.now()
    while ((await settled()) === 0) {
      if (worker.child.exitCode !== null) throw new Error(`core-worker exited:\n${worker.tail()}`)
      if (Date.now() - startedAt > 30_000) throw new Error(`no order settled within 30 s:\n${worker.tail()}`)
      await sleep(100)
    }
    await sleep(quick ? 300 : 2000) // ramp up to full concurrency before measuring
    const { s1, settledPerSec, settleSecs, inFlight } = await phase('settlement', async () => {
      const s0 = await settled()
      const t0 = performance.now()
      // Sagas in flight (BullMQ's active list): with Little's law, in flight / rate = time per saga.
      let samples = 0
      let active = 0
      const activeKey = `${PREFIX}:bull:checkout:active`
      while (performance.now() - t0 < cfg.settleMs) {
        active += await redis.llen(activeKey)
        samples++
        await sleep(200)
      }
      const s1 = await settled()
      const settleSecs = (performance.now() - t0) / 1000
      return { s1, settleSecs, settledPerSec: (s1 - s0) / settleSecs, inFlight: active / Math.max(1, samples) }
    })
    say(
      `  settlement: ${Math.round(settledPerSec)} orders/s over ${settleSecs.toFixed(1)} s, ${Math.round(inFlight)} sagas in flight on average ` +
        `(${settledPerSec > 0 ? Math.round((inFlight / settledPerSec) * 1000) : '-'} ms each) (${s1.toLocaleString('en-US')} of ${backlog.toLocaleString('en-US')} queued settled so far, ${sink.count()} room notifications)`,
    )
    await worker.stop()

    const invRes = await fetch(`${coreUrl}/admin/sales/${SALE_ID}/invariant`, {
      headers: { authorization: `Bearer ${adminToken}` },
    })
    const invariant = InvariantReport.parse(await invRes.json())
    const oversold = Math.max(0, invariant.postgres.confirmed - invariant.stock)
    const duplicateOrders = invariant.postgres.tokensWithTwoConfirmedOrders
    for (const api of apis) await api.stop()

    const numbers: BenchNumbers = {
      redeemPerSec: full.okPerSec,
      redeemP50Ms: full.latency.p50,
      redeemP99Ms: full.latency.p99,
      redeemRateTarget: cfg.rate,
      redeemAchievedRate: (fixed.ok / cfg.durationMs) * 1000,
      redeemP50MsAt5k: fixed.latencyFromIntended!.p50,
      redeemP99MsAt5k: fixed.latencyFromIntended!.p99,
      rowLockPerSec: rowLock?.okPerSec ?? 0,
      rowLockP99Ms: rowLock?.latency.p99 ?? 0,
      redisLockPerSec: redisLock?.okPerSec ?? 0,
      redisLockP99Ms: redisLock?.latency.p99 ?? 0,
      evalshaPerSec: evalsha.perSec,
      settledPerSec,
      coreApiRssMb: apiRssMb,
      coreWorkerRssMb: sampler.peakRssMb.get('core-worker') ?? 0,
      coreRssMb: Math.max(apiRssMb, sampler.peakRssMb.get('core-worker') ?? 0),
      coreApiCpu: apiCpu(phaseCpu.redeemFullSpeed) ?? 0,
      coreWorkerCpu: phaseCpu.settlement?.['core-worker'] ?? 0,
      loadGeneratorCpu: phaseCpu.redeemFullSpeed?.harness ?? 0,
      redeemCoreCpuUs: perOp(apiCpu(phaseCpu.redeemFullSpeed), full.okPerSec) * 1e6,
      redeemRedisCpuUs: perOp(phaseCpu.redeemFullSpeed?.redis, full.okPerSec) * 1e6,
      settleWorkerCpuMs: perOp(phaseCpu.settlement?.['core-worker'], settledPerSec) * 1e3,
      settlePostgresCpuMs: perOp(phaseCpu.settlement?.postgres, settledPerSec) * 1e3,
      invariantOk: invariant.ok,
      oversold,
      duplicateOrders,
    }
    say('')
    say(formatReport(numbers))

    const profiles: Record<string, ReturnType<typeof summarizeProfile>> = {}
    if (args['cpu-prof']) {
      await sleep(200)
      // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: thread 0 is the main thread (tsx's loader thread is left out).
      const names = new Map(profiled.map((p) => [String(p.child.pid), p.name]))
      for (const file of readdirSync(PROFILE_DIR).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))) {
        const name = names.get(file.split('.')[3]!) ?? 'core'
        const summary = summarizeProfile(join(PROFILE_DIR, file), 25)
        profiles[name] = summary
        say(`\nCPU profile of ${name}, main thread: ${join(PROFILE_DIR, file)} (${summary.totalMs} ms of CPU):`)
        for (const a of summary.areas.slice(0, 12)) say(`  ${(a.share * 100).toFixed(1).padStart(5)}%  ${a.name}`)
        say('  top functions (self time):')
        for (const f of summary.functions.slice(0, 15)) say(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`)
        // Native socket writes are where a round trip's kernel cost lands: say whose round trips they are.
        for (const native of ['writev', 'writeBuffer', 'writeUtf8String']) {
          const c = callersOf(join(PROFILE_DIR, file), native, 3)
          if (c.totalMs < summary.totalMs * 0.03) continue
          say(
            `  ${native} (${Math.round((c.totalMs / summary.totalMs) * 100)}%) called from: ${c.callers.map((x) => `${x.name} ${(x.share * 100).toFixed(0)}%`).join('; ')}`,
          )
        }
      }
    }

    if (args.json) {
      const round = (v: number) => Math.round(v * 10) / 10
      const out = Object.fromEntries(Object.entries(numbers).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]))
      const r = ratios(numbers)
      process.stdout.write(
        `${JSON.stringify({
          ...out,
          ratios: {
            vsRowLock: round(r.vsRowLock),
            vsRedisLock: round(r.vsRedisLock),
            ofEvalsha: round(r.ofEvalsha * 1000) / 1000,
          },
          targets: checkTargets(numbers),
          postgresWaits: phaseWaits,
          cpu: Object.fromEntries(
            Object.entries(phaseCpu).map(([k, v]) => [
              k,
              Object.fromEntries(Object.entries(v).map(([n, c]) => [n, Math.round(c * 100) / 100])),
            ]),
          ),
          run: {
            id: RUN,
            quick,
            ...cfg,
            cores: cpus().length,
            node: process.version,
            loadavg: loadavg().map(round),
            redisBenchmark: evalsha.command,
          },
          ...(args['cpu-prof']
            ? {
                profiles: Object.fromEntries(
                  Object.entries(profiles).map(([f, p]) => [f, { totalMs: p.totalMs, areas: p.areas.slice(0, 10) }]),
                ),
              }
            : {}),
        })}\n`,
      )
    }
  } finally {
    await cleanup()
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`)
    process.exit(1)
  },
)
