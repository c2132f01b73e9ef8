/**
 * Failure drills: `npm run drills [-- --json] [--only a,b] [--stock 100] [--shoppers 300]`.
 *
 * Each drill runs a live sale against real processes and real services, breaks something in the middle,
 * heals it, waits for the system to recover by itself, and checks the books:
 * - core runs as child processes, `node --import tsx core/main.ts` with ROLE=api and ROLE=worker;
 * - Redis is a `redis-server --save ''` this script starts (and kills) on a free port, never the shared one;
 * - Postgres is a throwaway cluster this script creates with initdb and stops/starts with pg_ctl;
 * - Stripe is the offline fake (test/support/stripe-fake.ts) over HTTP, which can misbehave and which
 *   keeps the gateway's own ledger, so charges are counted from the gateway's side, not from ours;
 * - the waiting room is simulated here: it receives core's token outcomes over HTTP and hands a returned
 *   token to the next shopper in line at generation + 1, as the real room does.
 * Figures per drill: confirmed orders, oversold units, lost orders (a captured charge with neither a
 * confirmed order nor a refund), double charges (an order charged twice), whether the invariant report
 * holds after recovery, and seconds from the heal until every order placed before it settled.
 * Exit code 1 if any drill ends with a non-zero bad figure or a broken invariant.
 * A drill that fails keeps its books (printed after the table, and as `books` in its --json entry): every
 * order not final or whose outcome the room never heard (order row, saga record and step log, payment,
 * BullMQ jobs `<orderId>` and `<orderId>.resume`, room notification jobs, Redis hold and token state, the
 * room's view of the token) and every token the simulated room holds but never handed out again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, createWriteStream, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, type WriteStream } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import pg from 'pg'
import type Stripe from 'stripe'
import { randomId, shopperOf, signGrant, signPurchaseToken, type InvariantReport, type TokenOutcome } from '../contracts/index.ts'
import { loadConfig } from '../core/config.ts'
import { QUEUE_NAMES } from '../core/jobs/jobs.ts'
import { saleKeys } from '../core/redis/keys.ts'
import { FakeStripe } from '../test/support/stripe-fake.ts'
import { freePort } from './services.ts'

/** Postgres server binaries: PG_BIN, else the newest /usr/lib/postgresql/<v>/bin (Debian), else initdb on PATH. */
function findPgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)) : []
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (newest) return `/usr/lib/postgresql/${newest}/bin`
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim()
  if (onPath) return dirname(onPath)
  throw new Error('the drills need the Postgres server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN')
}
const PG_BIN = findPgBin()
const ROOT = new URL('..', import.meta.url).pathname
const WEBHOOK_SECRET = 'whsec_drill_secret_0123456789'
const DEV = loadConfig({})

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    stock: { type: 'string', default: '100' },
    shoppers: { type: 'string', default: '260' },
    'decline-rate': { type: 'string', default: '0.2' },
    'deadline-s': { type: 'string', default: '150' },
    keep: { type: 'boolean', default: false },
  },
})
const STOCK = Number(opts.stock)
const SHOPPERS = Number(opts.shoppers)
const DECLINE_RATE = Number(opts['decline-rate'])
const DEADLINE_MS = Number(opts['deadline-s']) * 1000
const say = (...parts: unknown[]) => {
  if (!opts.json || process.env.DRILLS_VERBOSE) console.error(`[drills ${new Date().toISOString().slice(11, 19)}]`, ...parts)
}

// ------------------------------------------------------------------ services the drills own

const asPostgres = (cmd: string, args: string[]) => (process.getuid?.() === 0 ? { cmd: 'runuser', args: ['-u', 'postgres', '--', cmd, ...args] } : { cmd, args })

class DrillPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'fg-drill-pg-'))
  port = 0
  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }
  private run(cmd: string, args: string[]) {
    const c = asPostgres(join(PG_BIN, cmd), args)
    const r = spawnSync(c.cmd, c.args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`)
  }
  async init(): Promise<void> {
    if (process.getuid?.() === 0) chownSync(this.dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()), Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()))
    this.port = await freePort()
    this.run('initdb', ['-D', join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'])
    this.start()
  }
  start(): void {
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, '-l', join(this.dir, 'log'), '-w', 'start'])
  }
  /** Immediate stop: connections are cut, as when the database host goes away. */
  stop(): void {
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop'])
  }
  async database(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name}`)
    await client.query(`CREATE DATABASE ${name}`)
    await client.end()
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`
  }
  destroy(): void {
    try {
      this.stop()
    } catch {}
    rmSync(this.dir, { recursive: true, force: true })
  }
}

class DrillRedis {
  port = 0
  private proc?: ChildProcess
  get url() {
    return `redis://127.0.0.1:${this.port}`
  }
  async start(): Promise<void> {
    this.port ||= await freePort()
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' })
    const client = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    client.on('error', () => {})
    for (let i = 0; i < 100; i++) {
      try {
        await client.connect()
        await client.ping()
        client.disconnect()
        return
      } catch {
        await sleep(50)
      }
    }
    throw new Error('drill redis did not start')
  }
  /** kill -9: everything in memory is gone (no persistence configured). */
  kill9(): void {
    this.proc?.kill('SIGKILL')
    this.proc = undefined
  }
  async flush(): Promise<void> {
    const client = new Redis(this.url)
    await client.flushall()
    client.disconnect()
  }
}

class CoreProcess {
  private proc?: ChildProcess
  /** Exits nobody asked for: core must survive every drill without a supervisor restarting it. */
  crashes = 0
  constructor(
    readonly role: 'api' | 'worker',
    private readonly env: Record<string, string>,
    private readonly log: WriteStream,
  ) {}
  async start(): Promise<void> {
    this.proc = spawn(process.execPath, ['--import', 'tsx', 'core/main.ts'], { cwd: ROOT, env: { ...process.env, ...this.env, ROLE: this.role }, stdio: ['ignore', 'pipe', 'pipe'] })
    const proc = this.proc
    proc.once('exit', (code, signal) => {
      if (this.proc === proc) {
        this.crashes++
        this.log.write(`\n[drills] core ${this.role} exited by itself: code ${code} signal ${signal}\n`)
      }
    })
    this.proc.stdout!.pipe(this.log, { end: false })
    this.proc.stderr!.pipe(this.log, { end: false })
    if (this.role === 'api') {
      const url = `http://127.0.0.1:${this.env.PORT}/healthz`
      for (let i = 0; i < 200; i++) {
        if (await fetch(url).then((r) => r.ok, () => false)) return
        await sleep(100)
      }
      throw new Error('core api did not become healthy')
    }
    await sleep(1500)
  }
  kill9(): void {
    this.proc?.kill('SIGKILL')
    this.proc = undefined
  }
  async stop(): Promise<void> {
    const proc = this.proc
    if (!proc) return
    this.proc = undefined
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGTERM')
    await Promise.race([exited, sleep(8000)])
    proc.kill('SIGKILL')
  }
}

// ------------------------------------------------------------------ the waiting room, simulated

class RoomSim {
  private server?: Server
  url = ''
  onOutcome: (saleId: string, outcome: TokenOutcome) => void = () => {}
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        const saleId = /\/admin\/sales\/([^/]+)\/tokens\/outcomes$/.exec(req.url ?? '')?.[1]
        if (req.method !== 'POST' || !saleId) return void res.writeHead(404).end()
        for (const o of JSON.parse(body).outcomes as TokenOutcome[]) this.onOutcome(saleId, o)
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"applied":1}')
      })
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
  }
  close(): Promise<void> {
    this.server?.closeAllConnections()
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}

// ------------------------------------------------------------------ a live sale

const adminHeaders = { authorization: `Bearer ${DEV.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' }

async function http(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<{ status: number; body: any } | null> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 8000) })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  } catch {
    return null
  }
}

/** One shopper's visit with a token, as the simulated room saw it. */
interface Visit {
  who: number
  gen: number
  orderId?: string
  /** 'shopping', 'order confirmed|failed', 'refused <code>', 'gave up at its deadline', 'stopped' */
  ended: string
  at: string
}

class SaleRun {
  readonly queue = Array.from({ length: SHOPPERS }, (_, i) => i)
  readonly gens = new Map<string, number>()
  readonly sold = new Set<string>()
  readonly tokens = new Map<string, string>()
  readonly seen = new Set<string>()
  readonly refusals = new Map<string, number>()
  /** token id -> the last (session, grant) handed out, for the replay attack */
  readonly handed = new Map<string, { token: string; grant: string; session: string }>()
  /** Tokens whose shopper is at work right now. */
  readonly shopping = new Set<string>()
  /** token id -> what its latest shopper did (the books of a failed drill). */
  readonly last = new Map<string, Visit>()
  /** token id -> every outcome core reported for it, in arrival order ("gen outcome at"). */
  readonly heard = new Map<string, string[]>()
  inflight = 0
  stopped = false

  constructor(
    readonly saleId: string,
    private readonly api: () => string,
  ) {}

  onOutcome(o: TokenOutcome): void {
    const key = `${o.tid}.${o.gen}.${o.outcome}`
    const heard = this.heard.get(o.tid) ?? []
    heard.push(`${o.gen} ${o.outcome} ${new Date().toISOString().slice(11, 23)}`)
    this.heard.set(o.tid, heard)
    if (this.seen.has(key)) return
    this.seen.add(key)
    if (o.outcome === 'sold') this.sold.add(o.tid)
    else if (o.outcome === 'returned' && this.gens.get(o.tid) === o.gen) void this.serve(o.tid)
  }

  async open(): Promise<void> {
    for (;;) {
      const res = await http(`${this.api()}/admin/sales`, {
        method: 'POST',
        headers: adminHeaders,
        body: JSON.stringify({ saleId: this.saleId, sku: 'DRILL', name: 'Drill drop', priceCents: 4999, stock: STOCK, holdTtlSeconds: 30, startsAt: new Date().toISOString() }),
      })
      if (res && res.status < 300) break
      await sleep(200)
    }
    for (let i = 0; i < STOCK; i++) void this.serve(`tok_drill${String(i).padStart(12, '0')}`)
  }

  get done(): boolean {
    return this.inflight === 0 && (this.sold.size >= STOCK || this.queue.length === 0)
  }

  /**
   * Tokens the room still holds and will never hand out again by itself: not sold, nobody shopping with
   * them, and no "returned" heard for their current generation (a "returned" with nobody left in line
   * leaves a token unsold, which is fine).
   */
  stuckTokens(): Array<{ tid: string; gen: number; last?: Visit; heard: string[] }> {
    const out = []
    for (const [tid, gen] of this.gens) {
      if (this.sold.has(tid) || this.shopping.has(tid) || this.seen.has(`${tid}.${gen}.returned`)) continue
      out.push({ tid, gen, last: this.last.get(tid), heard: this.heard.get(tid) ?? [] })
    }
    return out
  }

  private async serve(tid: string): Promise<void> {
    if (this.stopped) return
    const who = this.queue.shift()
    if (who === undefined) return
    const gen = (this.gens.get(tid) ?? 0) + 1
    this.gens.set(tid, gen)
    this.inflight++
    this.shopping.add(tid)
    const last: Visit = { who, gen, ended: 'shopping', at: new Date().toISOString().slice(11, 23) }
    this.last.set(tid, last)
    try {
      last.ended = await this.shop(who, tid, gen, last)
    } catch (error) {
      last.ended = `threw ${(error as Error).message}`
    } finally {
      last.at = new Date().toISOString().slice(11, 23)
      if (this.gens.get(tid) === gen) this.shopping.delete(tid)
      this.inflight--
    }
  }

  /** Returns how the shopper's visit ended (for the books). */
  private async shop(who: number, tid: string, gen: number, last: Visit): Promise<string> {
    const session = `drillsession${String(who).padStart(8, '0')}${randomId(8)}`
    const key = `drill-${this.saleId}-${who}`
    const paymentMethod = Math.random() < DECLINE_RATE ? 'pm_card_chargeDeclined' : 'pm_card_visa'
    let token = this.tokens.get(tid)
    if (!token) {
      token = await signPurchaseToken({ sale: this.saleId, tid, iat: Math.floor(Date.now() / 1000) }, DEV.TOKEN_SECRET)
      this.tokens.set(tid, token)
    }
    const grant = await signGrant({ sale: this.saleId, tid, gen, sub: await shopperOf(session), iat: Math.floor(Date.now() / 1000), exp: Date.now() + 15 * 60_000 }, DEV.GRANT_SECRET)
    this.handed.set(tid, { token, grant, session })
    const headers = { 'content-type': 'application/json', 'x-floodgate-session': session, 'idempotency-key': key }
    const deadline = Date.now() + DEADLINE_MS
    let orderId: string | undefined
    while (!this.stopped && Date.now() < deadline) {
      if (!orderId) {
        const res = await http(`${this.api()}/v1/redeem`, { method: 'POST', headers, body: JSON.stringify({ token, grant, paymentMethod }) })
        if (res?.status === 202) last.orderId = orderId = res.body.orderId
        else if (res && res.status >= 400 && res.status < 500) {
          const code = res.body?.error?.code ?? String(res.status)
          this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1)
          return `refused ${code}`
        } else await sleep(250) // down, 5xx, 503 while restoring: retry with the same key, like a real client
        continue
      }
      const res = await http(`${this.api()}/v1/orders/${orderId}?waitMs=3000`, { headers: { 'x-floodgate-session': session } })
      if (res?.status === 200 && res.body.status !== 'pending') return `order ${res.body.status}`
      if (res?.status === 404) orderId = undefined // its job was lost with Redis: redeem again, same key, same order id
      else if (!res || res.status >= 500) await sleep(250)
    }
    return this.stopped ? 'stopped' : 'gave up at its deadline'
  }
}

// ------------------------------------------------------------------ measuring

interface DrillResult {
  name: string
  confirmed: number
  oversold: number
  lostOrders: number
  doubleCharges: number
  invariantHolds: boolean
  recoverSeconds: number
  /** Not in the issue's list, printed for diagnosis: authorizations still open on failed orders. */
  openAuthorizations: number
  /** Core processes that exited by themselves (must be 0). */
  crashes: number
  notes: string
  /** When the drill failed: the books of every order not final and every token stuck in the room. */
  books?: DrillBooks
}

async function books(db: pg.Pool, fake: FakeStripe, saleId: string): Promise<{ confirmed: number; pending: number; active: number; lostOrders: number; doubleCharges: number; openAuthorizations: number; orders: Map<string, string> }> {
  const { rows } = await db.query<{ id: string; status: string }>('SELECT id, status FROM orders WHERE sale_id = $1', [saleId])
  const orders = new Map(rows.map((r) => [r.id, r.status]))
  const active = (await db.query(`SELECT count(*)::int AS n FROM sagas WHERE status IN ('RUNNING', 'SUSPENDED', 'COMPENSATING')`)).rows[0].n as number
  let lostOrders = 0
  let doubleCharges = 0
  let openAuthorizations = 0
  const charged = new Map<string, number>()
  for (const intent of fake.intents.values()) {
    if (intent.captures > 1) doubleCharges += intent.captures - 1
    if (intent.status === 'succeeded' && intent.amountReceived - intent.amountRefunded > 0) {
      charged.set(intent.orderId, (charged.get(intent.orderId) ?? 0) + 1)
      if (orders.get(intent.orderId) !== 'CONFIRMED') lostOrders++
    }
    if (intent.status === 'requires_capture' && orders.get(intent.orderId) === 'FAILED') openAuthorizations++
  }
  for (const n of charged.values()) if (n > 1) doubleCharges += n - 1
  return {
    confirmed: rows.filter((r) => r.status === 'CONFIRMED').length,
    pending: rows.filter((r) => r.status === 'PENDING').length,
    active,
    lostOrders,
    doubleCharges,
    openAuthorizations,
    orders,
  }
}

/** The books of one order that is not final, or whose outcome never reached the room. */
interface OrderBooks {
  orderId: string
  /** Why it is in the books: 'pending', 'saga <status>', 'outcome not heard', 'token stuck in the room'. */
  why: string[]
  order: Record<string, unknown> | null
  saga: { status: string; completed: string[]; failure: string | null; updatedAt: string } | null
  stepLog: string[]
  payment: Record<string, unknown> | null
  /** BullMQ checkout jobs `<orderId>` and `<orderId>.resume`: state, attempts, stalls, failure. */
  jobs: Record<string, unknown>
  /** Room notification jobs (single or batched) that carry an outcome of this order's token generation. */
  roomJobs: Record<string, unknown>
  /** Redis: the hold (held with expiry / committed / none) and the token's state. */
  hold: { state: 'held' | 'committed' | 'none'; info: string | null; expiresAt: string | null; token: string | null }
  room: { gen: number | undefined; sold: boolean; last?: Visit; heard: string[] }
  /** Core log lines that name the order. */
  log: string[]
}

export interface DrillBooks {
  redis: Record<string, unknown>
  orders: OrderBooks[]
  /** Tokens the room holds and never handed out again, with no order row to explain them. */
  tokens: Array<{ tid: string; gen: number; token: string | null; last?: Visit; heard: string[] }>
}

/**
 * What an operator needs to see when a drill does not settle: every order not final (or final but whose
 * outcome the room never heard), and every token the room holds but never re-issued, each with its order
 * row, saga record and step log, payment, BullMQ jobs, Redis hold and the room's view of its token.
 */
async function drillBooks(db: pg.Pool, redisUrl: string, saleId: string, sale: SaleRun, logPath: string): Promise<DrillBooks> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {})
  const keys = saleKeys('fg', saleId)
  const { hostname: host, port } = new URL(redisUrl)
  const connection = { host, port: Number(port), maxRetriesPerRequest: 1 }
  const checkout = new Queue(QUEUE_NAMES.checkout, { connection, prefix: 'fg:bull' })
  const outcomes = new Queue(QUEUE_NAMES.roomOutcomes, { connection, prefix: 'fg:bull' })
  const jobState = async (queue: Queue, id: string) => {
    const job = await queue.getJob(id).catch(() => undefined)
    if (!job) return 'none'
    const state = await job.getState().catch((e: Error) => `? ${e.message}`)
    const at = (ms?: number) => (ms ? new Date(ms).toISOString().slice(11, 23) : undefined)
    return { state, attemptsMade: job.attemptsMade, attemptsStarted: job.attemptsStarted, stalledCounter: job.stalledCounter, failedReason: job.failedReason || undefined, added: at(job.timestamp), processedOn: at(job.processedOn), finishedOn: at(job.finishedOn), returnvalue: job.returnvalue ?? undefined }
  }
  try {
    const stuck = sale.stuckTokens()
    const stuckTids = stuck.map((t) => t.tid)
    const { rows } = await db.query<Record<string, any>>(
      `SELECT o.*, s.status AS saga_status, s.completed_steps, s.failure AS saga_failure, s.updated_at AS saga_updated_at
       FROM orders o LEFT JOIN sagas s ON s.id = o.id
       WHERE o.sale_id = $1 ORDER BY o.created_at`,
      [saleId],
    )
    // Every room notification job, single or batched, by the outcomes it carries.
    const carried = new Map<string, Array<{ id: string; job: Awaited<ReturnType<Queue['getJob']>> }>>()
    for (const job of await outcomes.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized', 'wait'], 0, -1).catch(() => [])) {
      if (!job?.id) continue
      const data = job.data as { saleId?: string; outcome?: TokenOutcome; outcomes?: TokenOutcome[] }
      if (data.saleId !== saleId) continue
      for (const o of data.outcomes ?? (data.outcome ? [data.outcome] : [])) {
        const key = `${o.tid}.${o.gen}.${o.outcome}`
        carried.set(key, [...(carried.get(key) ?? []), { id: job.id, job }])
      }
    }
    const lines = existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n') : []
    const orders: OrderBooks[] = []
    for (const r of rows) {
      const why: string[] = []
      if (r.status === 'PENDING') why.push('pending')
      if (r.saga_status !== 'COMPLETED' && r.saga_status !== 'COMPENSATED') why.push(`saga ${r.saga_status ?? 'missing'}`)
      const heardIt = r.status === 'CONFIRMED' ? sale.seen.has(`${r.token_id}.${r.token_gen}.sold`) : r.status === 'FAILED' ? sale.seen.has(`${r.token_id}.${r.token_gen}.returned`) || (sale.gens.get(r.token_id) ?? 0) > r.token_gen : true
      if (!heardIt) why.push('outcome not heard')
      if (stuckTids.includes(r.token_id) && sale.gens.get(r.token_id) === r.token_gen) why.push('token stuck in the room')
      if (!why.length) continue
      const [info, score, token] = await Promise.all([redis.hget(keys.holdInfo, r.id), redis.zscore(keys.holds, r.id), redis.hget(keys.tokens, r.token_id)])
      const stepLog = (await db.query('SELECT * FROM saga_step_log WHERE saga_id = $1 ORDER BY id', [r.id])).rows.map(
        (l) => `${new Date(l.at).toISOString().slice(11, 23)} ${l.step} ${l.outcome}${l.detail ? ` (${l.detail})` : ''}`,
      )
      const payment = (await db.query('SELECT * FROM payments WHERE order_id = $1', [r.id])).rows[0] ?? null
      const roomJobs: Record<string, unknown> = {}
      for (const outcome of ['sold', 'returned']) {
        const jobs = carried.get(`${r.token_id}.${r.token_gen}.${outcome}`) ?? []
        roomJobs[outcome] = jobs.length ? Object.fromEntries(await Promise.all(jobs.map(async ({ id }) => [id, await jobState(outcomes, id)]))) : 'none'
      }
      const { saga_status, completed_steps, saga_failure, saga_updated_at, ...order } = r
      orders.push({
        orderId: r.id,
        why,
        order: { ...order, shopper: String(order.shopper).slice(0, 12) },
        saga: saga_status
          ? { status: saga_status, completed: (completed_steps as Array<{ step: string; compensated?: boolean }>).map((c) => `${c.step}${c.compensated ? ' (compensated)' : ''}`), failure: saga_failure, updatedAt: new Date(saga_updated_at).toISOString() }
          : null,
        stepLog,
        payment,
        jobs: { [r.id]: await jobState(checkout, r.id), [`${r.id}.resume`]: await jobState(checkout, `${r.id}.resume`) },
        roomJobs,
        hold: { state: !info ? 'none' : score !== null ? 'held' : 'committed', info, expiresAt: score !== null ? new Date(Number(score)).toISOString() : null, token },
        room: { gen: sale.gens.get(r.token_id), sold: sale.sold.has(r.token_id), last: sale.last.get(r.token_id), heard: sale.heard.get(r.token_id) ?? [] },
        log: lines.filter((l) => l.includes(r.id)).slice(-20).map((l) => l.slice(0, 500)),
      })
    }
    const explained = new Set(orders.map((o) => `${o.order?.token_id}.${o.order?.token_gen}`))
    const tokens = []
    for (const t of stuck) if (!explained.has(`${t.tid}.${t.gen}`)) tokens.push({ ...t, token: await redis.hget(keys.tokens, t.tid) })
    const counters = await redis.multi().get(keys.stock).get(keys.sold).hlen(keys.holdInfo).zcard(keys.holds).exec()
    const [available, sold, holds, expiring] = (counters ?? []).map(([, v]) => v)
    return { redis: { available, sold, holds, expiring, checkoutJobs: await checkout.getJobCounts().catch(() => null) }, orders, tokens }
  } finally {
    await Promise.all([checkout.close(), outcomes.close()]).catch(() => {})
    redis.disconnect()
  }
}

// ------------------------------------------------------------------ the drills

interface DrillContext {
  redis: DrillRedis
  postgres: DrillPostgres
  fake: FakeStripe
  api: CoreProcess
  worker: CoreProcess
  apiUrl: string
  sale: SaleRun
  db: pg.Pool
  notes: string[]
}

interface Drill {
  name: string
  /** Before the sale opens. */
  before?: (ctx: DrillContext) => Promise<void> | void
  /** Breaks something mid-sale and heals it; resolves with the moment of the heal. */
  fault: (ctx: DrillContext) => Promise<number>
  /** After recovery, extra checks; returns notes or throws. */
  after?: (ctx: DrillContext) => Promise<void>
}

async function untilConfirmed(ctx: DrillContext, share: number): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const { rows } = await ctx.db.query(`SELECT count(*) FILTER (WHERE status = 'CONFIRMED')::int AS c, count(*) FILTER (WHERE status = 'PENDING')::int AS p FROM orders`).catch(() => ({ rows: [{ c: 0, p: 0 }] }))
    if (rows[0].c >= STOCK * share && rows[0].p > 0) return
    await sleep(50)
  }
}

const DRILLS: Drill[] = [
  {
    name: 'worker-kill-9',
    fault: async (ctx) => {
      await untilConfirmed(ctx, 0.25)
      const pending = (await ctx.db.query(`SELECT count(*)::int AS n FROM sagas WHERE status = 'RUNNING'`)).rows[0].n
      ctx.worker.kill9()
      ctx.notes.push(`killed worker with ${pending} sagas running`)
      await sleep(1000)
      await ctx.worker.start()
      return Date.now()
    },
  },
  {
    name: 'core-kill-9',
    fault: async (ctx) => {
      await untilConfirmed(ctx, 0.25)
      const pending = (await ctx.db.query(`SELECT count(*)::int AS n FROM sagas WHERE status = 'RUNNING'`)).rows[0].n
      ctx.api.kill9()
      ctx.worker.kill9()
      ctx.notes.push(`killed api + worker with ${pending} sagas running at ${new Date().toISOString().slice(11, 23)}`)
      await sleep(1000)
      await Promise.all([ctx.api.start(), ctx.worker.start()])
      return Date.now()
    },
  },
  {
    name: 'redis-data-loss',
    fault: async (ctx) => {
      await untilConfirmed(ctx, 0.25)
      ctx.redis.kill9()
      ctx.notes.push('redis killed, restarted empty')
      await sleep(1000)
      await ctx.redis.start()
      return Date.now()
    },
  },
  {
    name: 'postgres-down-10s',
    fault: async (ctx) => {
      await untilConfirmed(ctx, 0.25)
      ctx.postgres.stop()
      await sleep(10_000)
      ctx.postgres.start()
      ctx.notes.push('postgres unreachable 10 s')
      return Date.now()
    },
  },
  {
    name: 'gateway-30pct-timeouts-500s',
    before: (ctx) => {
      ctx.fake.faults = { errorRate: 0.15, lostRate: 0.15, hangMs: 1500 }
    },
    fault: async (ctx) => {
      await untilConfirmed(ctx, 0.9)
      const faulty = ctx.fake.requests.filter((r) => r.fault !== 'none').length
      ctx.fake.faults = {}
      ctx.notes.push(`${faulty}/${ctx.fake.requests.filter((r) => r.method === 'POST').length} gateway calls failed or lost`)
      return Date.now()
    },
  },
  {
    name: 'webhooks-dup-late-reordered',
    fault: async (ctx) => {
      const url = `${ctx.apiUrl}/webhooks/stripe`
      let sent = 0
      const late: Stripe.Event[] = []
      const statuses = new Map<number, number>()
      const deliver = async (events: Stripe.Event[]) => {
        for (const s of await FakeStripe.deliver(url, WEBHOOK_SECRET, events)) statuses.set(s, (statuses.get(s) ?? 0) + 1)
      }
      while (!ctx.sale.done) {
        const batch = ctx.fake.events.slice(sent)
        sent += batch.length
        const shuffled = [...batch, ...batch.filter(() => Math.random() < 0.5)].sort(() => Math.random() - 0.5)
        late.push(...shuffled.filter(() => Math.random() < 0.2))
        await deliver(shuffled.filter((e) => !late.includes(e)))
        await sleep(300)
      }
      await deliver([...late, ...ctx.fake.events.slice(sent)].reverse())
      await deliver(ctx.fake.events.slice(0, 50)) // and once more, all of them duplicates now
      const forged = await FakeStripe.deliver(url, 'whsec_not_ours', ctx.fake.events.slice(0, 20))
      if (forged.some((s) => s !== 400)) throw new Error('a forged webhook was accepted')
      const processed = (await ctx.db.query('SELECT count(*)::int AS n FROM processed_events')).rows[0].n
      ctx.notes.push(`${ctx.fake.events.length} events, ${[...statuses.values()].reduce((a, b) => a + b, 0)} deliveries (${JSON.stringify(Object.fromEntries(statuses))}), ${processed} processed once, 20 forged refused`)
      if (processed !== ctx.fake.events.length) throw new Error(`processed ${processed} events, expected ${ctx.fake.events.length}`)
      return Date.now()
    },
  },
  {
    name: 'tokens-10k-forged-tampered-replayed-expired',
    fault: async (ctx) => {
      await untilConfirmed(ctx, 0.1)
      const kinds = ['forged', 'tampered', 'replayed', 'expired', 'wrong-sale'] as const
      const accepted: string[] = []
      const codes = new Map<string, number>()
      let n = 0
      const one = async () => {
        const kind = kinds[n++ % kinds.length]!
        const tid = `tok_drill${String(Math.floor(Math.random() * STOCK)).padStart(12, '0')}`
        const session = `attacker${randomId(12)}`
        const sub = await shopperOf(session)
        const now = Date.now()
        let token = await signPurchaseToken({ sale: ctx.sale.saleId, tid, iat: Math.floor(now / 1000) }, DEV.TOKEN_SECRET)
        let grant = await signGrant({ sale: ctx.sale.saleId, tid, gen: 1, sub, iat: Math.floor(now / 1000), exp: now + 60_000 }, DEV.GRANT_SECRET)
        if (kind === 'forged') token = await signPurchaseToken({ sale: ctx.sale.saleId, tid, iat: Math.floor(now / 1000) }, 'y'.repeat(40))
        if (kind === 'tampered') {
          const handed = ctx.sale.handed.get(tid)
          if (handed) {
            // A real grant with its subject rewritten to the attacker's session, signature kept.
            const [prefix, payload, mac] = handed.grant.split('.')
            const body = JSON.parse(Buffer.from(payload!, 'base64url').toString())
            grant = `${prefix}.${Buffer.from(JSON.stringify({ ...body, sub })).toString('base64url')}.${mac}`
            token = handed.token
          }
        }
        if (kind === 'replayed') {
          const handed = ctx.sale.handed.get(tid)
          if (handed) ({ token, grant } = handed) // a real, used token + grant, from another session
        }
        if (kind === 'expired') grant = await signGrant({ sale: ctx.sale.saleId, tid, gen: 1, sub, iat: Math.floor(now / 1000) - 600, exp: now - 1000 }, DEV.GRANT_SECRET)
        if (kind === 'wrong-sale') {
          // A genuine token and grant, both for another sale's same token id.
          token = await signPurchaseToken({ sale: 'some-other-sale', tid, iat: Math.floor(now / 1000) }, DEV.TOKEN_SECRET)
          grant = await signGrant({ sale: 'some-other-sale', tid, gen: 1, sub, iat: Math.floor(now / 1000), exp: now + 60_000 }, DEV.GRANT_SECRET)
        }
        const res = await http(`${ctx.apiUrl}/v1/redeem`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-floodgate-session': session, 'idempotency-key': `attack-${randomId(10)}` },
          body: JSON.stringify({ token, grant }),
        })
        const code = res ? (res.body?.error?.code ?? String(res.status)) : 'network'
        codes.set(`${kind}:${code}`, (codes.get(`${kind}:${code}`) ?? 0) + 1)
        if (res && res.status < 300) accepted.push(`${kind} ${tid}`)
      }
      const ATTACKS = 10_000
      await Promise.all(Array.from({ length: 40 }, async () => {
        while (n < ATTACKS) await one()
      }))
      const summary = [...codes.entries()].sort().map(([k, v]) => `${k}=${v}`).join(' ')
      ctx.notes.push(`${ATTACKS} bad redeems, ${accepted.length} accepted; ${summary}`)
      if (accepted.length) throw new Error(`bad redeems accepted: ${accepted.slice(0, 5).join(', ')}`)
      return Date.now()
    },
  },
]

async function runDrill(drill: Drill, index: number, postgres: DrillPostgres, redis: DrillRedis, room: RoomSim, logDir: string): Promise<DrillResult> {
  const started = Date.now()
  const databaseUrl = await postgres.database(`drill_${index}`)
  await redis.flush()
  const fake = await new FakeStripe().start()
  fake.latencyMs = 40
  const port = await freePort()
  const env: Record<string, string> = {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'fg',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '10',
    EDGE_URL: room.url,
    PAYMENT_GATEWAY: 'stripe',
    STRIPE_SECRET_KEY: 'sk_test_drills',
    STRIPE_API_BASE: fake.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_TIMEOUT_MS: '1000',
    CHECKOUT_CONCURRENCY: '32',
    JOB_LOCK_MS: '5000',
    HOLD_SWEEP_INTERVAL_MS: '2000',
    RECONCILE_INTERVAL_MS: '2000',
    RECONCILE_STALE_MS: '4000',
    REDIS_CHECK_INTERVAL_MS: '1000',
  }
  const logPath = join(logDir, `${drill.name}.log`)
  const log = createWriteStream(logPath)
  const api = new CoreProcess('api', env, log)
  const worker = new CoreProcess('worker', env, log)
  const saleId = `drill-${index}-${randomId(4).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`
  const apiUrl = `http://127.0.0.1:${port}`
  const sale = new SaleRun(saleId, () => apiUrl)
  room.onOutcome = (s, o) => s === saleId && sale.onOutcome(o)
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 })
  db.on('error', () => {})
  const notes: string[] = []
  const ctx: DrillContext = { redis, postgres, fake, api, worker, apiUrl, sale, db, notes }
  let healedAt = Date.now()
  let failure: string | null = null
  try {
    await api.start()
    await worker.start()
    await drill.before?.(ctx)
    await sale.open()
    say(drill.name, 'sale open')
    healedAt = await drill.fault(ctx)
    say(drill.name, 'healed', notes.at(-1))
    // Recovered = every order placed so far has settled, no saga is left mid-way, no authorization is left
    // open on a failed order, and the invariant report holds.
    const deadline = Date.now() + DEADLINE_MS
    let recoveredAt: number | null = null
    let lastProgress = Date.now()
    let caughtUpAt: number | null = null
    for (;;) {
      const b = await books(db, fake, saleId).catch(() => null)
      const inv = (await http(`${apiUrl}/admin/sales/${saleId}/invariant`, { headers: adminHeaders }))?.body as InvariantReport | undefined
      // Recovered: every order placed before the heal settled in Postgres, its outcome reached the room, and
      // the invariant holds.
      if (caughtUpAt === null && inv?.ok) {
        const before = await db
          .query<{ token_id: string; token_gen: number; status: string }>(`SELECT token_id, token_gen, status FROM orders WHERE sale_id = $1 AND created_at < to_timestamp($2 / 1000.0)`, [saleId, healedAt])
          .catch(() => null)
        const caughtUp = before?.rows.every((o) =>
          o.status === 'CONFIRMED' ? sale.seen.has(`${o.token_id}.${o.token_gen}.sold`) : o.status === 'FAILED' ? sale.seen.has(`${o.token_id}.${o.token_gen}.returned`) || (sale.gens.get(o.token_id) ?? 0) > o.token_gen : false,
        )
        if (caughtUp) caughtUpAt = Date.now()
      }
      const settledNow = b && b.pending === 0 && b.active === 0 && b.openAuthorizations === 0 && inv?.ok
      if (Date.now() - lastProgress > 5000) {
        lastProgress = Date.now()
        say(drill.name, JSON.stringify({ confirmed: b?.confirmed, pending: b?.pending, active: b?.active, open: b?.openAuthorizations, inflight: sale.inflight, sold: sale.sold.size, queue: sale.queue.length, ok: inv?.ok }))
      }
      if (settledNow && recoveredAt === null) recoveredAt = Date.now()
      if (!settledNow) recoveredAt = null
      if (settledNow && sale.done && Date.now() - recoveredAt! > 1500) break
      if (Date.now() > deadline) {
        failure = `did not settle: ${JSON.stringify({ caughtUp: caughtUpAt !== null, pending: b?.pending, active: b?.active, open: b?.openAuthorizations, inflight: sale.inflight, sold: sale.sold.size, queue: sale.queue.length, invariant: inv?.checks?.filter((c) => !c.ok) })}`
        break
      }
      await sleep(200)
    }
    await drill.after?.(ctx)
    const b = await books(db, fake, saleId)
    const inv = (await http(`${apiUrl}/admin/sales/${saleId}/invariant`, { headers: adminHeaders }))?.body as InvariantReport
    if (sale.refusals.size) notes.push(`legit refusals ${JSON.stringify(Object.fromEntries(sale.refusals))}`)
    notes.push(`${Math.round((Date.now() - started) / 1000)} s`)
    const bad = failure !== null || inv?.ok !== true || b.lostOrders > 0 || b.doubleCharges > 0 || b.confirmed > STOCK || api.crashes + worker.crashes > 0
    const drillBooksNow = bad ? await drillBooks(db, redis.url, saleId, sale, logPath).catch((error) => ({ redis: { error: (error as Error).message }, orders: [], tokens: [] })) : undefined
    return {
      name: drill.name,
      confirmed: b.confirmed,
      oversold: Math.max(0, b.confirmed - STOCK) + (inv?.postgres.tokensWithTwoConfirmedOrders ?? 0),
      lostOrders: b.lostOrders,
      doubleCharges: b.doubleCharges,
      invariantHolds: !failure && inv?.ok === true,
      recoverSeconds: caughtUpAt === null ? -1 : Math.max(0, Math.round((caughtUpAt - healedAt) / 100) / 10),
      openAuthorizations: b.openAuthorizations,
      crashes: api.crashes + worker.crashes,
      notes: [failure, api.crashes + worker.crashes ? `core crashed ${api.crashes + worker.crashes}x` : null, ...notes].filter(Boolean).join('; '),
      books: drillBooksNow,
    }
  } catch (error) {
    const drillBooksNow = await drillBooks(db, redis.url, saleId, sale, logPath).catch((e) => ({ redis: { error: (e as Error).message }, orders: [], tokens: [] }))
    return { name: drill.name, confirmed: 0, oversold: 0, lostOrders: 0, doubleCharges: 0, invariantHolds: false, recoverSeconds: -1, openAuthorizations: 0, crashes: api.crashes + worker.crashes, notes: `drill failed: ${(error as Error).message}; ${notes.join('; ')}`, books: drillBooksNow }
  } finally {
    sale.stopped = true
    await Promise.all([api.stop(), worker.stop()])
    await db.end().catch(() => {})
    await fake.close()
    log.end()
  }
}

async function main(): Promise<void> {
  const only = opts.only?.split(',')
  const drills = DRILLS.filter((d) => !only || only.includes(d.name))
  const logDir = mkdtempSync(join(tmpdir(), 'fg-drill-logs-'))
  const postgres = new DrillPostgres()
  const redis = new DrillRedis()
  const room = new RoomSim()
  const results: DrillResult[] = []
  const started = Date.now()
  try {
    await postgres.init()
    await redis.start()
    await room.start()
    say(`postgres :${postgres.port}, redis :${redis.port}, logs ${logDir}; stock ${STOCK}, shoppers ${SHOPPERS}, declines ${DECLINE_RATE * 100}%`)
    for (const [i, drill] of drills.entries()) {
      say(`${drill.name} ...`)
      const result = await runDrill(drill, i, postgres, redis, room, logDir)
      results.push(result)
      say(drill.name, JSON.stringify({ ...result, books: result.books ? `${result.books.orders.length} orders, ${result.books.tokens.length} tokens (below)` : undefined }))
    }
  } finally {
    redis.kill9()
    await room.close()
    postgres.destroy()
    if (!opts.keep) rmSync(logDir, { recursive: true, force: true })
  }
  const ok = results.every((r) => r.oversold === 0 && r.lostOrders === 0 && r.doubleCharges === 0 && r.invariantHolds && r.crashes === 0)
  const header = ['drill', 'confirmed', 'oversold', 'lost', 'double', 'invariant', 'recover s', 'open auth', 'crashes', 'notes']
  const rows = results.map((r) => [r.name, r.confirmed, r.oversold, r.lostOrders, r.doubleCharges, r.invariantHolds ? 'holds' : 'BROKEN', r.recoverSeconds, r.openAuthorizations, r.crashes, r.notes].map(String))
  const widths = header.map((h, i) => (i === header.length - 1 ? 0 : Math.max(h.length, ...rows.map((r) => r[i]!.length))))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  console.log(line(header))
  for (const r of rows) console.log(line(r))
  for (const r of results) {
    if (r.books) console.log(`books of ${r.name} (orders not final, tokens stuck in the room):\n${JSON.stringify(r.books, null, 2)}`)
  }
  console.log(`${ok ? 'all drills passed' : 'DRILLS FAILED'}: stock ${STOCK}, shoppers ${SHOPPERS}, ${Math.round((Date.now() - started) / 1000)} s`)
  if (opts.json) {
    console.log(JSON.stringify({ drills: results.map(({ notes: _n, openAuthorizations: _o, crashes: _c, ...r }) => r), ok, stock: STOCK, shoppers: SHOPPERS, seconds: Math.round((Date.now() - started) / 1000) }))
  }
  process.exitCode = ok ? 0 : 1
}

await main()
