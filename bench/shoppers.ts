/**
 * Simulated shoppers that behave like real clients, talking only HTTP to the edge: each joins the waiting
 * room, polls at the interval the room suggests, redeems when admitted with one Idempotency-Key (repeated on
 * every retry after a 5xx, a 429 or a lost connection, as Stripe-style clients do), and follows its order to
 * the end. Used by the demo, `npm run bench:shoppers`, the end-to-end tests and the drills.
 *
 * `runCrowd` runs many of them, either closed (N shoppers arriving over a window: the demo's pre-queue crowd)
 * or open (arrivals at a rate for a time, like k6's arrival-rate executors: a slow system shows up as latency
 * and dropped arrivals, not as a quietly smaller test).
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import {
  peekGrant,
  randomId,
  type ErrorBody,
  type Order,
  type RedeemResponse,
  type RoomStatus,
} from '../contracts/index.ts'

/** How long one order long-poll is held at the edge. */
const ORDER_WAIT_MS = 5_000
/** A client gives up on one request after this long and retries it (same Idempotency-Key for redeem). */
const REQUEST_TIMEOUT_MS = 30_000

export type ShopperOutcome = 'confirmed' | 'payment_failed' | 'sold_out' | 'refused' | 'gave_up' | 'error'

export interface ShopperResult {
  outcome: ShopperOutcome
  orderId?: string
  /** The token and generation the shopper was granted (its order's id follows from them). */
  tid?: string
  gen?: number
  detail?: string
  /** Duration of the first join request, ms. */
  joinMs: number
  /** Duration of each redeem request sent, ms (retries included). */
  redeemMs: number[]
  /** When the first redeem was sent, ms after the run started. */
  redeemAt?: number
  /** When the shopper finished (told sold out, order settled, ...), ms after the run started. */
  endedAt?: number
  polls: number
  /** The last thing the shopper was told about its order: 'confirmed', 'failed', 'pending' or null (nothing). */
  lastTold: 'confirmed' | 'failed' | 'pending' | null
  /** Answers that were not the request's success, by kind: `<step> <status> <code>`, `<step> network`. */
  errors: Record<string, number>
  /** Requests sent, by step (join, status, redeem, order). */
  requests: Record<string, number>
  /** The edge's own time on each answer (`Server-Timing: edge;dur=`), by step: the rest was queueing. */
  edgeMs: Record<string, number[]>
  /** Per step, how long core took as the edge saw it (`Server-Timing: core`), for calls the edge forwarded. */
  coreMs: Record<string, number[]>
}

export interface ShopperOptions {
  edgeUrl: string
  saleId: string
  /** Payment method this shopper uses (the simulated gateway declines `pm_card_chargeDeclined`). */
  paymentMethod?: string
  /** Hold each status poll up to this long at the edge (`?waitMs=`); 0 = plain polls. */
  holdMs?: number
  /** Epoch ms after which the shopper gives up (a safety net: the room should end every wait first). */
  deadline: number
  /** Clock origin for `redeemAt`/`endedAt` (performance.now() of the run's start). */
  runStarted: number
  /** How the shopper sends its requests (default 'fetch'; see ShopperClient). */
  client?: ShopperClient
}

/**
 * The HTTP client the simulated shoppers send with. 'fetch' is what browsers and apps use; 'request' is
 * undici's lower-level call: the same connections, at about half the crowd's CPU per request (README "Measured").
 * On a machine the crowd shares with the stack it measures, that CPU is taken from the stack; a load
 * generator such as k6 runs elsewhere.
 */
export type ShopperClient = 'fetch' | 'request'

/** What a shopper sends: method, headers and a string body. */
interface Call {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

/** An HTTP answer as the shopper reads it: status, one header at a time, and the body read to the end. */
interface Reply {
  status: number
  header(name: string): string | null
  text: string
}

const viaFetch = async (url: string, call: Call, signal: AbortSignal): Promise<Reply> => {
  const response = await fetch(url, { ...call, signal })
  return { status: response.status, header: (name) => response.headers.get(name), text: await response.text() }
}

const viaRequest = async (url: string, call: Call, signal: AbortSignal): Promise<Reply> => {
  const response = await request(url, { ...call, signal })
  const header = (name: string) => {
    const value = response.headers[name]
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value
  }
  return { status: response.statusCode, header, text: await response.body.text() }
}

const CLIENTS: Record<ShopperClient, typeof viaFetch> = { fetch: viaFetch, request: viaRequest }

const isTransient = (status: number) => status >= 500 || status === 429

/** One HTTP answer, read to the end inside the request's own timeout. */
interface Answer {
  status: number
  ok: boolean
  retryAfter: string | null
  text: string
}

/** `Retry-After` in ms when the server sent one, else capped exponential backoff with jitter. */
function backoffMs(attempt: number, answer?: Answer | null): number {
  const retryAfter = Number(answer?.retryAfter)
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(10_000, retryAfter * 1000)
  return Math.min(4_000, 100 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())
}

function parse<T>(answer: Answer): T | null {
  try {
    return JSON.parse(answer.text) as T
  } catch {
    return null
  }
}

/**
 * A client address for one simulated shopper, as `cf-connecting-ip`: the edge limits joins, polls and places per
 * client network, and a crowd simulated from one host would otherwise be one network. Miniflare and
 * `wrangler dev` keep a client's `cf-connecting-ip`; Cloudflare replaces it with the real address.
 * Random in 10.0.0.0/8 (16.7 million addresses: collisions are rare and only ever share a limit).
 */
export function simulatedAddress(): string {
  const n = 1 + Math.floor(Math.random() * 0xfffffe)
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
}

/** One shopper's visit. Never throws: whatever happens ends as an outcome. */
export async function shop(options: ShopperOptions): Promise<ShopperResult> {
  const result: ShopperResult = {
    outcome: 'gave_up',
    joinMs: 0,
    redeemMs: [],
    polls: 0,
    lastTold: null,
    errors: {},
    requests: {},
    edgeMs: {},
    coreMs: {},
  }
  const base = `${options.edgeUrl}/api/sales/${options.saleId}`
  const session = randomId()
  const headers: Record<string, string> = {
    accept: 'application/json',
    'x-floodgate-session': session,
    'cf-connecting-ip': simulatedAddress(),
  }
  const late = () => Date.now() > options.deadline
  const sendWith = CLIENTS[options.client ?? 'fetch']
  const count = (kind: string) => (result.errors[kind] = (result.errors[kind] ?? 0) + 1)

  /** One request with a client timeout; a lost connection or timeout is `null` (counted). */
  const send = async (step: string, url: string, call: Call = {}): Promise<Answer | null> => {
    const started = performance.now()
    result.requests[step] = (result.requests[step] ?? 0) + 1
    try {
      const reply = await sendWith(url, call, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
      const answer: Answer = {
        status: reply.status,
        ok: reply.status >= 200 && reply.status < 300,
        retryAfter: reply.header('retry-after'),
        text: reply.text,
      }
      const timing = reply.header('server-timing') ?? ''
      const edge = /edge;dur=([\d.]+)/.exec(timing)
      if (edge) (result.edgeMs[step] ??= []).push(Number(edge[1]))
      const core = /core;dur=([\d.]+)/.exec(timing)
      if (core) (result.coreMs[step] ??= []).push(Number(core[1]))
      if (step === 'join' && result.joinMs === 0) result.joinMs = performance.now() - started
      if (step === 'redeem') result.redeemMs.push(performance.now() - started)
      if (!answer.ok) count(`${step} ${answer.status} ${parse<ErrorBody>(answer)?.error?.code ?? ''}`.trim())
      return answer
    } catch (error) {
      if (step === 'redeem') result.redeemMs.push(performance.now() - started)
      const failure = error as { code?: string; cause?: { code?: string }; name: string }
      const cause = failure.cause?.code ?? failure.code ?? failure.name
      count(`${step} network ${cause}`)
      return null
    }
  }

  /** Repeats a safe request (join, status, order) until it gets a non-transient answer or the deadline. */
  const settle = async (step: string, url: string, init: Call = {}): Promise<Answer | null> => {
    for (let attempt = 0; !late(); attempt++) {
      const answer = await send(step, url, init)
      if (answer && !isTransient(answer.status)) return answer
      await sleep(backoffMs(attempt, answer))
    }
    return null
  }

  const finish = (outcome: ShopperOutcome, detail?: string): ShopperResult => {
    result.outcome = outcome
    if (detail !== undefined) result.detail = detail
    result.endedAt = Math.round(performance.now() - options.runStarted)
    return result
  }

  const joined = await settle('join', `${base}/join`, { method: 'POST', headers })
  if (!joined) return finish('gave_up', 'join')
  let status = parse<RoomStatus>(joined)
  if (!joined.ok || !status) return finish('error', `join ${joined.status}`)
  // The signed queue ticket lets the edge answer polls without asking the waiting room (apps send it back).
  const pollHeaders = status.ticket ? { ...headers, 'x-floodgate-ticket': status.ticket } : headers
  const statusUrl = `${base}/status${options.holdMs ? `?waitMs=${options.holdMs}` : ''}`

  while (status.state === 'waiting' || status.state === 'not_started') {
    if (late()) return finish('gave_up', 'waiting')
    // Jitter keeps thousands of shoppers from polling in lockstep.
    await sleep(status.refreshMs * (0.8 + Math.random() * 0.4))
    const polled = await settle('status', statusUrl, { headers: pollHeaders })
    result.polls += 1
    if (!polled) return finish('gave_up', 'waiting')
    const next = parse<RoomStatus>(polled)
    if (!polled.ok || !next) return finish('error', `status ${polled.status}`)
    status = next
  }
  if (status.state === 'sold_out') return finish('sold_out')
  if (status.state !== 'admitted') return finish('error', `state ${status.state}`)
  const granted = status.grant ? peekGrant(status.grant) : null
  if (granted) {
    result.tid = granted.tid
    result.gen = granted.gen
  }

  // Pay: one Idempotency-Key for every attempt, so a retry after a lost answer gets the first answer back.
  const redeemHeaders = { ...headers, 'content-type': 'application/json', 'idempotency-key': randomUUID() }
  const body = JSON.stringify({
    token: status.token,
    grant: status.grant,
    paymentMethod: options.paymentMethod ?? 'pm_card_visa',
  })
  result.redeemAt = Math.round(performance.now() - options.runStarted)
  let orderId: string | undefined
  for (let attempt = 0; orderId === undefined; attempt++) {
    if (late()) return finish('gave_up', 'redeem')
    const answer = await send('redeem', `${base}/redeem`, { method: 'POST', headers: redeemHeaders, body })
    if (answer?.status === 202) {
      orderId = parse<RedeemResponse>(answer)?.orderId
      result.lastTold = 'pending'
      if (!orderId) return finish('error', 'redeem answered 202 without an order id')
    } else if (answer && !isTransient(answer.status)) {
      return finish('refused', parse<ErrorBody>(answer)?.error?.code ?? String(answer.status))
    } else {
      await sleep(backoffMs(attempt, answer))
    }
  }
  result.orderId = orderId
  for (;;) {
    const answer = await settle('order', `${options.edgeUrl}/api/orders/${orderId}?waitMs=${ORDER_WAIT_MS}`, {
      headers,
    })
    if (!answer) return finish('gave_up', 'order')
    result.polls += 1
    const order = answer.ok ? parse<Order>(answer) : null
    if (!order) return finish('error', `order ${answer.status}`)
    if (order.status === 'confirmed') {
      result.lastTold = 'confirmed'
      return finish('confirmed')
    }
    if (order.status === 'failed') {
      result.lastTold = 'failed'
      return finish('payment_failed', order.failureReason ?? undefined)
    }
  }
}

export interface CrowdOptions {
  edgeUrl: string
  saleId: string
  /** Closed model: this many shoppers, arriving spread uniformly over `arrivalMs`. */
  shoppers?: number
  arrivalMs?: number
  /** Open model: `rate` arrivals per second for `seconds` (after a linear ramp of `rampSeconds`). */
  rate?: number
  seconds?: number
  rampSeconds?: number
  /** Open model: arrivals beyond this many shoppers in flight are dropped (k6's maxVUs). */
  maxInFlight?: number
  /** Share of shoppers whose card is declined (`pm_card_chargeDeclined`). */
  declineRate?: number
  holdMs?: number
  /** A shopper gives up after this long (ms). */
  maxWaitMs?: number
  /**
   * Connections the crowd keeps to the edge (shared, kept alive), as a CDN front end multiplexes browsers onto
   * a pool of connections to the worker. A local workerd resets connections past a few thousand at once.
   */
  connections?: number
  /** The shoppers' HTTP client (default 'fetch'). */
  client?: ShopperClient
  /** Called after each shopper finishes. */
  onResult?: (result: ShopperResult, done: number) => void
}

export interface CrowdReport {
  shoppers: number
  byOutcome: Record<ShopperOutcome, number>
  gaveUp: number
  /** Answers with status >= 500 (every retry counted). */
  errors5xx: number
  /** Requests that got no answer (connection lost, client timeout). */
  networkErrors: number
  /** Every answer that was not a success, by kind (`<step> <status> <code>`). */
  errors: Record<string, number>
  /** Requests sent, by step, and per second of the run. */
  requests: Record<string, number>
  requestsPerSecond: number
  /** p50 / p95 of the edge's own time per step (Server-Timing), ms: client latency minus this is queueing. */
  edgeTimeMs: Record<string, { p50: number; p95: number }>
  /** Core's time as the edge saw it, per step the edge forwards (see ShopperResult.coreMs). */
  coreTimeMs: Record<string, { p50: number; p95: number }>
  /**
   * The crowd process's own event-loop delay, ms: what every latency above may include of the load generator's
   * own lateness (a busy client reads its answers late).
   */
  crowdEventLoopDelayMs: { p50: number; p99: number; max: number }
  /** CPU the crowd process spent (user + system) per request it sent, µs: what it took from a shared machine. */
  crowdCpuUsPerRequest: number
  /** Open model: arrivals not started because `maxInFlight` shoppers were busy, or started > 1 s late. */
  droppedArrivals: number
  joinP50Ms: number
  joinP95Ms: number
  joinP99Ms: number
  redeemP50Ms: number
  redeemP95Ms: number
  redeemP99Ms: number
  polls: number
  seconds: number
  results: ShopperResult[]
}

/**
 * Confirmed orders whose shopper was never told "confirmed" (their last answer was a 5xx, a refusal, or
 * nothing): the shoppers a lost answer would have charged and left believing they lost. `confirmed` lists
 * the (token, generation) of every confirmed order, from Postgres.
 */
export function shoppersUninformed(results: ShopperResult[], confirmed: Array<{ tid: string; gen: number }>): number {
  const told = new Map(results.filter((r) => r.tid !== undefined).map((r) => [`${r.tid}.${r.gen}`, r.lastTold]))
  return confirmed.filter((o) => told.get(`${o.tid}.${o.gen}`) !== 'confirmed').length
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const round1 = (ms: number) => Math.round(ms * 10) / 10

/** An event-loop delay histogram (ns) as ms: p50, p99, max. */
export function loopDelayMs(h: IntervalHistogram): { p50: number; p99: number; max: number } {
  h.disable()
  const ms = (ns: number) => Math.round(ns / 1e5) / 10
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) }
}

/** p50/p95 per step of one of the shoppers' timing lists. */
function stepPercentiles(results: ShopperResult[], list: 'edgeMs' | 'coreMs') {
  const steps = new Set(results.flatMap((r) => Object.keys(r[list])))
  return Object.fromEntries(
    [...steps].map((step) => {
      const all = results.flatMap((r) => r[list][step] ?? [])
      return [step, { p50: round1(percentile(all, 50)), p95: round1(percentile(all, 95)) }]
    }),
  )
}

function cpuPerRequest(since: NodeJS.CpuUsage, sent: number): number {
  const { user, system } = process.cpuUsage(since)
  return sent ? Math.round((user + system) / sent) : 0
}

/** Runs a crowd of shoppers against the edge and sums up what they saw. */
export async function runCrowd(options: CrowdOptions): Promise<CrowdReport> {
  const runStarted = performance.now()
  const cpuAtStart = process.cpuUsage()
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const maxWaitMs = options.maxWaitMs ?? 110_000
  const results: ShopperResult[] = []
  const running: Promise<void>[] = []
  let dropped = 0
  let inFlight = 0
  const start = () => {
    inFlight++
    const paymentMethod = Math.random() < (options.declineRate ?? 0) ? 'pm_card_chargeDeclined' : 'pm_card_visa'
    const visit = shop({
      edgeUrl: options.edgeUrl,
      saleId: options.saleId,
      paymentMethod,
      holdMs: options.holdMs ?? 0,
      ...(options.client ? { client: options.client } : {}),
      deadline: Date.now() + maxWaitMs,
      runStarted,
    }).then((result) => {
      inFlight--
      results.push(result)
      options.onResult?.(result, results.length)
    })
    running.push(visit)
  }

  if (options.rate !== undefined) {
    // Open model: arrival i is due at the time the ramp-then-hold rate has produced i arrivals.
    const rate = options.rate
    const ramp = (options.rampSeconds ?? 0) * 1000
    const hold = (options.seconds ?? 0) * 1000
    const dueAt = (i: number) => {
      const rampArrivals = (rate * ramp) / 2000
      if (i < rampArrivals) return Math.sqrt((2 * i * ramp) / (rate / 1000))
      return ramp + ((i - rampArrivals) * 1000) / rate
    }
    const total = Math.floor((rate * ramp) / 2000 + (rate * hold) / 1000)
    const maxInFlight = options.maxInFlight ?? 20_000
    for (let i = 0; i < total; i++) {
      const wait = dueAt(i) - (performance.now() - runStarted)
      if (wait > 0) await sleep(wait)
      if (inFlight >= maxInFlight || wait < -1000) dropped++
      else start()
    }
  } else {
    const n = options.shoppers ?? 0
    const window = options.arrivalMs ?? 0
    const offsets = Array.from({ length: n }, () => Math.random() * window).sort((a, b) => a - b)
    for (const offset of offsets) {
      const wait = offset - (performance.now() - runStarted)
      if (wait > 0) await sleep(wait)
      start()
    }
  }
  await Promise.all(running)

  const byOutcome = { confirmed: 0, payment_failed: 0, sold_out: 0, refused: 0, gave_up: 0, error: 0 }
  const errors: Record<string, number> = {}
  const requests: Record<string, number> = {}
  for (const r of results) {
    byOutcome[r.outcome] += 1
    for (const [kind, n] of Object.entries(r.errors)) errors[kind] = (errors[kind] ?? 0) + n
    for (const [step, n] of Object.entries(r.requests)) requests[step] = (requests[step] ?? 0) + n
  }
  const seconds = (performance.now() - runStarted) / 1000
  const sent = Object.values(requests).reduce((n, c) => n + c, 0)
  const sumWhere = (test: (kind: string) => boolean) =>
    Object.entries(errors).reduce((n, [kind, c]) => (test(kind) ? n + c : n), 0)
  const joins = results.map((r) => r.joinMs).filter((ms) => ms > 0)
  const redeems = results.flatMap((r) => r.redeemMs)
  return {
    shoppers: results.length,
    byOutcome,
    gaveUp: byOutcome.gave_up,
    errors5xx: sumWhere((kind) => / 5\d\d\b/.test(kind)),
    networkErrors: sumWhere((kind) => / network\b/.test(kind)),
    errors,
    requests,
    requestsPerSecond: Math.round(sent / seconds),
    edgeTimeMs: stepPercentiles(results, 'edgeMs'),
    coreTimeMs: stepPercentiles(results, 'coreMs'),
    crowdEventLoopDelayMs: loopDelayMs(loop),
    crowdCpuUsPerRequest: cpuPerRequest(cpuAtStart, sent),
    droppedArrivals: dropped,
    joinP50Ms: round1(percentile(joins, 50)),
    joinP95Ms: round1(percentile(joins, 95)),
    joinP99Ms: round1(percentile(joins, 99)),
    redeemP50Ms: round1(percentile(redeems, 50)),
    redeemP95Ms: round1(percentile(redeems, 95)),
    redeemP99Ms: round1(percentile(redeems, 99)),
    polls: results.reduce((n, r) => n + r.polls, 0),
    seconds: round1(seconds),
    results,
  }
}

const CROWD_ENTRY = fileURLToPath(new URL('./crowd-process.ts', import.meta.url))

/**
 * Runs the crowd in a process of its own, as real shoppers are: the process that serves them (core in the
 * demo) shares no event loop with them. Progress lines from the child reach `onProgress`.
 */
export function spawnCrowd(
  options: Omit<CrowdOptions, 'onResult'>,
  onProgress?: (done: number) => void,
): Promise<CrowdReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CROWD_ENTRY, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of String(chunk).split('\n')) {
        const done = /^progress (\d+)$/.exec(line.trim())
        if (done) onProgress?.(Number(done[1]))
        else if (line.trim()) err += `${line}\n`
      }
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1)
      if (code !== 0 || !last) return reject(new Error(`shopper process exited ${code}: ${err.slice(-2000)}`))
      resolve(JSON.parse(last) as CrowdReport)
    })
  })
}
