/**
 * Failure drills: `npm run drills [-- --json] [--only a,b] [--stock 100] [--shoppers 260]`.
 *
 * Each drill runs a live sale against real processes and real services, breaks something in the middle,
 * heals it, waits for the system to recover by itself, and checks the books:
 * - core runs as child processes, `node --import tsx core/main.ts` with ROLE=api and ROLE=worker (infra.ts);
 * - Redis is a `redis-server --save ''` started here on a free port, never the shared one;
 * - Postgres is a throwaway cluster created with initdb and stopped/started with pg_ctl;
 * - Stripe is the offline fake (test/support/stripe-fake.ts) over HTTP, which can misbehave and which keeps the
 *   gateway's own ledger, so charges are counted from the gateway's side, not from ours;
 * - the waiting room is either simulated (sim-sale.ts: the RoomDouble receives core's outcomes and re-issues
 *   returned tokens at generation + 1) or, for drills marked `through: 'edge'`, the real edge and Durable Object
 *   in workerd with real-client shoppers (edge-sale.ts).
 * Figures per drill: confirmed orders, oversold units, lost orders (a captured charge with neither a confirmed
 * order nor a refund), double charges, confirmed orders whose shopper was never told (`shoppersUninformed`),
 * whether the invariant report holds after recovery, and seconds from the heal until every order placed before
 * it settled and its outcome reached the room. Exit code 1 if any drill ends with a bad figure.
 * A drill that fails keeps its books (printed after the table, and as `books` in its --json entry).
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { randomId, type InvariantReport } from '../../contracts/index.ts'
import { FakeStripe } from '../../test/support/stripe-fake.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import { freePort } from '../services.ts'
import { books, drillBooks, type DrillBooks } from './books.ts'
import { drill as cartKill9 } from './cases/cart-checkout-kill-9.ts'
import { drill as coreFrozen } from './cases/core-frozen-12s.ts'
import { drill as coreKill9 } from './cases/core-kill-9.ts'
import { drill as gatewayFaults } from './cases/gateway-30pct-timeouts-500s.ts'
import { drill as postgresDown } from './cases/postgres-down-10s.ts'
import { drill as redisDataLoss } from './cases/redis-data-loss.ts'
import { drill as redisPaused } from './cases/redis-paused-8s.ts'
import { drill as badTokens } from './cases/tokens-10k-forged-tampered-replayed-expired.ts'
import { drill as webhooks } from './cases/webhooks-dup-late-reordered.ts'
import { drill as workerKill9 } from './cases/worker-kill-9.ts'
import type { Drill, DrillContext, DrillSale } from './drill.ts'
import { EdgeSale } from './edge-sale.ts'
import { CoreProcess, DrillPostgres, DrillRedis } from './infra.ts'
import { WEBHOOK_SECRET, say, settings } from './settings.ts'
import { SimSale, adminHeaders, http } from './sim-sale.ts'

const DRILLS: Drill[] = [
  workerKill9,
  coreKill9,
  redisDataLoss,
  postgresDown,
  gatewayFaults,
  webhooks,
  badTokens,
  coreFrozen,
  redisPaused,
  cartKill9,
]

interface DrillResult {
  name: string
  confirmed: number
  oversold: number
  lostOrders: number
  doubleCharges: number
  /** Confirmed orders whose shopper's last answer was not "confirmed" (must be 0). */
  shoppersUninformed: number
  invariantHolds: boolean
  recoverSeconds: number
  /** Not in the list, printed for diagnosis: authorizations still open on failed orders. */
  openAuthorizations: number
  /** Core processes that exited by themselves (must be 0). */
  crashes: number
  notes: string
  /** When the drill failed: the books of every order not final and every token stuck in the room. */
  books?: DrillBooks
}

function coreEnv(
  port: number,
  redisUrl: string,
  databaseUrl: string,
  edgeUrl: string,
  stripeUrl: string,
): Record<string, string> {
  return {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    REDIS_URL: redisUrl,
    REDIS_PREFIX: 'fg',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '10',
    EDGE_URL: edgeUrl,
    PAYMENT_GATEWAY: 'stripe',
    STRIPE_SECRET_KEY: 'sk_test_drills',
    STRIPE_API_BASE: stripeUrl,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_TIMEOUT_MS: '1000',
    CHECKOUT_CONCURRENCY: '32',
    JOB_LOCK_MS: '5000',
    HOLD_SWEEP_INTERVAL_MS: '2000',
    RECONCILE_INTERVAL_MS: '2000',
    RECONCILE_STALE_MS: '4000',
    REDIS_CHECK_INTERVAL_MS: '1000',
    CART_SWEEP_INTERVAL_MS: '1000',
  }
}

const failedBooks = (error: unknown): DrillBooks => ({
  redis: { error: (error as Error).message },
  orders: [],
  tokens: [],
})

async function runDrill(
  drill: Drill,
  index: number,
  postgres: DrillPostgres,
  redis: DrillRedis,
  room: RoomDouble,
  logDir: string,
): Promise<DrillResult> {
  const started = Date.now()
  const databaseUrl = await postgres.database(`drill_${index}`)
  await redis.flush()
  const fake = await new FakeStripe().start()
  fake.latencyMs = 40
  const [port, edgePort] = [await freePort(), await freePort()]
  const throughEdge = drill.through === 'edge'
  const edgeUrl = throughEdge ? `http://127.0.0.1:${edgePort}` : room.url
  const env = coreEnv(port, redis.url, databaseUrl, edgeUrl, fake.url)
  const logPath = join(logDir, `${drill.name}.log`)
  const log = createWriteStream(logPath)
  const api = new CoreProcess('api', env, log)
  const worker = new CoreProcess('worker', env, log)
  const saleId = `drill-${index}-${randomId(4)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')}`
  const apiUrl = `http://127.0.0.1:${port}`
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 })
  db.on('error', () => {})
  const notes: string[] = []
  let sale: DrillSale | undefined
  let healedAt = Date.now()
  let failure: string | null = null
  const crashes = () => api.crashes + worker.crashes
  try {
    await api.start()
    await worker.start()
    if (throughEdge) {
      sale = await EdgeSale.start(saleId, apiUrl, edgePort)
    } else {
      const simulated = new SimSale(saleId, () => apiUrl)
      room.onOutcome = (s, o) => s === saleId && simulated.onOutcome(o)
      sale = simulated
    }
    const ctx: DrillContext = { redis, postgres, fake, api, worker, apiUrl, sale, db, notes }
    await drill.before?.(ctx)
    await sale.open()
    say(drill.name, 'sale open')
    healedAt = await drill.fault(ctx)
    say(drill.name, 'healed', notes.at(-1))
    // Recovered = every order placed so far has settled, no saga is left mid-way, no authorization is left
    // open on a failed order, and the invariant report holds.
    const deadline = Date.now() + settings.deadlineMs
    let recoveredAt: number | null = null
    let lastProgress = Date.now()
    let caughtUpAt: number | null = null
    for (;;) {
      const b = await books(db, fake, saleId).catch(() => null)
      const invariant = await http(`${apiUrl}/admin/sales/${saleId}/invariant`, { headers: adminHeaders })
      const inv = invariant?.body as InvariantReport | undefined
      // Caught up: every order placed before the heal settled in Postgres and its outcome reached the room.
      if (caughtUpAt === null && inv?.ok) {
        const before = await db
          .query<{ token_id: string; token_gen: number; status: string }>(
            `SELECT token_id, token_gen, status FROM orders WHERE sale_id = $1 AND created_at < to_timestamp($2 / 1000.0)`,
            [saleId, healedAt],
          )
          .catch(() => null)
        if (before && (await sale.caughtUp(before.rows))) caughtUpAt = Date.now()
      }
      const settledNow = b && b.pending === 0 && b.active === 0 && b.openAuthorizations === 0 && inv?.ok
      const state = {
        confirmed: b?.confirmed,
        pending: b?.pending,
        active: b?.active,
        open: b?.openAuthorizations,
        ...sale.progress(),
      }
      if (Date.now() - lastProgress > 5000) {
        lastProgress = Date.now()
        say(drill.name, JSON.stringify({ ...state, ok: inv?.ok }))
      }
      if (settledNow && recoveredAt === null) recoveredAt = Date.now()
      if (!settledNow) recoveredAt = null
      if (settledNow && sale.done && Date.now() - recoveredAt! > 1500) break
      if (Date.now() > deadline) {
        failure = `did not settle: ${JSON.stringify({ caughtUp: caughtUpAt !== null, ...state, invariant: inv?.checks?.filter((c) => !c.ok) })}`
        break
      }
      await sleep(200)
    }
    await drill.after?.(ctx)
    const b = await books(db, fake, saleId)
    const inv = (await http(`${apiUrl}/admin/sales/${saleId}/invariant`, { headers: adminHeaders }))
      ?.body as InvariantReport
    const confirmed = await db.query<{ tid: string; gen: number }>(
      `SELECT token_id AS tid, token_gen AS gen FROM orders WHERE sale_id = $1 AND status = 'CONFIRMED'`,
      [saleId],
    )
    const uninformed = sale.shoppersUninformed(confirmed.rows)
    if (sale.refusals.size) notes.push(`legit refusals ${JSON.stringify(Object.fromEntries(sale.refusals))}`)
    if (sale instanceof EdgeSale) {
      const crowd = sale.crowdReport()
      if (crowd)
        notes.push(
          `shoppers saw ${crowd.errors5xx} 5xx, ${crowd.networkErrors} lost connections, ${crowd.gaveUp} gave up`,
        )
    }
    notes.push(`${Math.round((Date.now() - started) / 1000)} s`)
    const bad =
      failure !== null ||
      inv?.ok !== true ||
      b.lostOrders > 0 ||
      b.doubleCharges > 0 ||
      b.confirmed > settings.stock ||
      uninformed > 0 ||
      crashes() > 0
    const booksNow = bad
      ? await drillBooks(db, redis.url, saleId, sale.roomView(), logPath).catch(failedBooks)
      : undefined
    return {
      name: drill.name,
      confirmed: b.confirmed,
      oversold: Math.max(0, b.confirmed - settings.stock) + (inv?.postgres.tokensWithTwoConfirmedOrders ?? 0),
      lostOrders: b.lostOrders,
      doubleCharges: b.doubleCharges,
      shoppersUninformed: uninformed,
      invariantHolds: !failure && inv?.ok === true,
      recoverSeconds: caughtUpAt === null ? -1 : Math.max(0, Math.round((caughtUpAt - healedAt) / 100) / 10),
      openAuthorizations: b.openAuthorizations,
      crashes: crashes(),
      notes: [failure, crashes() ? `core crashed ${crashes()}x` : null, ...notes].filter(Boolean).join('; '),
      books: booksNow,
    }
  } catch (error) {
    const booksNow = await drillBooks(db, redis.url, saleId, sale?.roomView() ?? null, logPath).catch(failedBooks)
    return {
      name: drill.name,
      confirmed: 0,
      oversold: 0,
      lostOrders: 0,
      doubleCharges: 0,
      shoppersUninformed: 0,
      invariantHolds: false,
      recoverSeconds: -1,
      openAuthorizations: 0,
      crashes: crashes(),
      notes: `drill failed: ${(error as Error).message}; ${notes.join('; ')}`,
      books: booksNow,
    }
  } finally {
    sale?.stop()
    // Thaw before stopping: a frozen process would not hear SIGTERM.
    api.thaw()
    worker.thaw()
    await Promise.all([api.stop(), worker.stop()])
    if (sale instanceof EdgeSale) await sale.close()
    await db.end().catch(() => {})
    await fake.close()
    log.end()
  }
}

function printTable(results: DrillResult[]): void {
  const header = [
    'drill',
    'confirmed',
    'oversold',
    'lost',
    'double',
    'uninformed',
    'invariant',
    'recover s',
    'open auth',
    'crashes',
    'notes',
  ]
  const rows = results.map((r) =>
    [
      r.name,
      r.confirmed,
      r.oversold,
      r.lostOrders,
      r.doubleCharges,
      r.shoppersUninformed,
      r.invariantHolds ? 'holds' : 'BROKEN',
      r.recoverSeconds,
      r.openAuthorizations,
      r.crashes,
      r.notes,
    ].map(String),
  )
  const widths = header.map((h, i) =>
    i === header.length - 1 ? 0 : Math.max(h.length, ...rows.map((r) => r[i]!.length)),
  )
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
  console.log(line(header))
  for (const r of rows) console.log(line(r))
  for (const r of results) {
    if (r.books)
      console.log(
        `books of ${r.name} (orders not final, tokens stuck in the room):\n${JSON.stringify(r.books, null, 2)}`,
      )
  }
}

async function main(): Promise<void> {
  const drills = DRILLS.filter((d) => !settings.only || settings.only.includes(d.name))
  const logDir = mkdtempSync(join(tmpdir(), 'fg-drill-logs-'))
  const postgres = new DrillPostgres()
  const redis = new DrillRedis()
  const room = new RoomDouble()
  const results: DrillResult[] = []
  const started = Date.now()
  try {
    await postgres.init()
    await redis.start()
    await room.start()
    say(
      `postgres :${postgres.port}, redis :${redis.port}, logs ${logDir}; stock ${settings.stock}, ` +
        `shoppers ${settings.shoppers}, declines ${settings.declineRate * 100}%`,
    )
    for (const [i, drill] of drills.entries()) {
      say(`${drill.name} ...`)
      const result = await runDrill(drill, i, postgres, redis, room, logDir)
      results.push(result)
      const booksSummary = result.books
        ? `${result.books.orders.length} orders, ${result.books.tokens.length} tokens (below)`
        : undefined
      say(drill.name, JSON.stringify({ ...result, books: booksSummary }))
    }
  } finally {
    redis.kill9()
    await room.close()
    postgres.destroy()
    if (!settings.keep) rmSync(logDir, { recursive: true, force: true })
  }
  const ok = results.every(
    (r) =>
      r.oversold === 0 &&
      r.lostOrders === 0 &&
      r.doubleCharges === 0 &&
      r.shoppersUninformed === 0 &&
      r.invariantHolds &&
      r.crashes === 0,
  )
  printTable(results)
  const seconds = Math.round((Date.now() - started) / 1000)
  console.log(
    `${ok ? 'all drills passed' : 'DRILLS FAILED'}: stock ${settings.stock}, shoppers ${settings.shoppers}, ${seconds} s`,
  )
  if (settings.json) {
    const drillsJson = results.map(({ notes: _n, openAuthorizations: _o, crashes: _c, ...r }) => r)
    console.log(JSON.stringify({ drills: drillsJson, ok, stock: settings.stock, shoppers: settings.shoppers, seconds }))
  }
  process.exitCode = ok ? 0 : 1
}

await main()
