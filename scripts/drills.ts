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
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync, type WriteStream } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import pg from 'pg'
import type Stripe from 'stripe'
import { randomId, shopperOf, signGrant, signPurchaseToken, type InvariantReport, type TokenOutcome } from '../contracts/index.ts'
import { loadConfig } from '../core/config.ts'
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

class SaleRun {
  readonly queue = Array.from({ length: SHOPPERS }, (_, i) => i)
  readonly gens = new Map<string, number>()
  readonly sold = new Set<string>()
  readonly tokens = new Map<string, string>()
  readonly seen = new Set<string>()
  readonly refusals = new Map<string, number>()
  /** token id -> the last (session, grant) handed out, for the replay attack */
  readonly handed = new Map<string, { token: string; grant: string; session: string }>()
  inflight = 0
  stopped = false

  constructor(
    readonly saleId: string,
    private readonly api: () => string,
  ) {}

  onOutcome(o: TokenOutcome): void {
    const key = `${o.tid}.${o.gen}.${o.outcome}`
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

  private async serve(tid: string): Promise<void> {
    if (this.stopped) return
    const who = this.queue.shift()
    if (who === undefined) return
    const gen = (this.gens.get(tid) ?? 0) + 1
    this.gens.set(tid, gen)
    this.inflight++
    try {
      await this.shop(who, tid, gen)
    } finally {
      this.inflight--
    }
  }

  private async shop(who: number, tid: string, gen: number): Promise<void> {
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
        if (res?.status === 202) orderId = res.body.orderId
        else if (res && res.status >= 400 && res.status < 500) {
          const code = res.body?.error?.code ?? String(res.status)
          this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1)
          return
        } else await sleep(250) // down, 5xx, 503 while restoring: retry with the same key, like a real client
        continue
      }
      const res = await http(`${this.api()}/v1/orders/${orderId}?waitMs=3000`, { headers: { 'x-floodgate-session': session } })
      if (res?.status === 200 && res.body.status !== 'pending') return
      if (res?.status === 404) orderId = undefined // its job was lost with Redis: redeem again, same key, same order id
      else if (!res || res.status >= 500) await sleep(250)
    }
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
  /** Not in the list, printed for diagnosis: authorizations still open on failed orders. */
  openAuthorizations: number
  /** Core processes that exited by themselves (must be 0). */
  crashes: number
  notes: string
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
      ctx.notes.push(`killed api + worker with ${pending} sagas running`)
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
  const log = createWriteStream(join(logDir, `${drill.name}.log`))
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
    }
  } catch (error) {
    return { name: drill.name, confirmed: 0, oversold: 0, lostOrders: 0, doubleCharges: 0, invariantHolds: false, recoverSeconds: -1, openAuthorizations: 0, crashes: api.crashes + worker.crashes, notes: `drill failed: ${(error as Error).message}; ${notes.join('; ')}` }
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
      say(drill.name, JSON.stringify(result))
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
  console.log(`${ok ? 'all drills passed' : 'DRILLS FAILED'}: stock ${STOCK}, shoppers ${SHOPPERS}, ${Math.round((Date.now() - started) / 1000)} s`)
  if (opts.json) {
    console.log(JSON.stringify({ drills: results.map(({ notes: _n, openAuthorizations: _o, crashes: _c, ...r }) => r), ok, stock: STOCK, shoppers: SHOPPERS, seconds: Math.round((Date.now() - started) / 1000) }))
  }
  process.exitCode = ok ? 0 : 1
}

await main()
