/**
 * Simulated shoppers: each joins the waiting room, polls at the interval the room suggests, and
 * when admitted redeems its token and follows its order to the end. Used by the demo, the
 * end-to-end tests and the benches; talks only HTTP to the edge, like a browser or app would.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { randomUUID } from 'node:crypto'
import { randomId, type ErrorBody, type Order, type RedeemResponse, type RoomStatus } from '../contracts/index.ts'

const ORDER_WAIT_MS = 5_000

export type ShopperOutcome = 'confirmed' | 'payment_failed' | 'sold_out' | 'refused' | 'gave_up' | 'error'

export interface ShopperResult {
  outcome: ShopperOutcome
  orderId?: string
  detail?: string
  joinMs: number
  redeemMs?: number
  /** When the redeem was sent, ms after the run started. */
  redeemAt?: number
  /** When the shopper finished (told sold out, order settled, ...), ms after the run started. */
  endedAt?: number
  polls: number
}

export interface ShopperRunOptions {
  edgeUrl: string
  saleId: string
  shoppers: number
  /** Payment method every shopper uses (the simulated gateway decides declines). */
  paymentMethod?: string
  /** Stop waiting after this long (a safety net; the room should end everyone's wait first). */
  deadlineMs?: number
  /** Shoppers arrive spread uniformly over this many ms (0: all at once). */
  arrivalMs?: number
  /**
   * Hold each status poll up to this long at the edge (`?waitMs=`): news within about a second. Every
   * waiting shopper then keeps a connection open: give the HTTP client enough connections. Default 0 (plain polls).
   */
  holdMs?: number
  /** Called after each shopper finishes. */
  onResult?: (result: ShopperResult, done: number) => void
}

export interface ShopperRunSummary {
  results: ShopperResult[]
  byOutcome: Record<ShopperOutcome, number>
  redeemMs: number[]
  joinMs: number[]
  polls: number
  seconds: number
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/**
 * fetch with the retries a real client makes on a dropped connection. Every shopper request is safe to
 * repeat: the session is chosen up front (join is idempotent per session) and redeem carries an
 * Idempotency-Key.
 */
async function request(url: string, init: RequestInit = {}, attempts = 6): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init)
    } catch (error) {
      if (attempt >= attempts) throw error
      await sleep(100 * 2 ** attempt * (0.5 + Math.random()))
    }
  }
}

async function json<T>(response: Response): Promise<T> {
  const text = await response.text()
  try {
    return JSON.parse(text) as T
  } catch {
    throw new Error(`non-JSON ${response.status} from ${response.url}: ${text.slice(0, 200)}`)
  }
}

async function shop(options: ShopperRunOptions, deadline: number, runStarted: number): Promise<ShopperResult> {
  const base = `${options.edgeUrl}/api/sales/${options.saleId}`
  let polls = 0
  const session = randomId()
  const headers = { accept: 'application/json', 'x-floodgate-session': session }
  const joinStarted = performance.now()
  const joinRes = await request(`${base}/join`, { method: 'POST', headers })
  const joinMs = performance.now() - joinStarted
  if (!joinRes.ok) return { outcome: 'error', detail: `join ${joinRes.status} ${JSON.stringify(await json<ErrorBody>(joinRes))}`, joinMs, polls }
  let status = await json<RoomStatus>(joinRes)
  // The signed queue ticket lets the edge answer polls without asking the waiting room (apps send it back).
  const pollHeaders = status.ticket ? { ...headers, 'x-floodgate-ticket': status.ticket } : headers

  while (status.state === 'waiting' || status.state === 'not_started') {
    if (Date.now() > deadline) return { outcome: 'gave_up', joinMs, polls }
    // jitter keeps thousands of shoppers from polling in lockstep
    await sleep(status.refreshMs * (0.8 + Math.random() * 0.4))
    const res = await request(`${base}/status${options.holdMs ? `?waitMs=${options.holdMs}` : ''}`, { headers: pollHeaders })
    polls += 1
    if (!res.ok) return { outcome: 'error', detail: `status ${res.status}`, joinMs, polls }
    status = await json<RoomStatus>(res)
  }
  if (status.state === 'sold_out') return { outcome: 'sold_out', joinMs, polls }
  if (status.state !== 'admitted') return { outcome: 'error', detail: `state ${status.state}`, joinMs, polls }

  const redeemStarted = performance.now()
  const redeemAt = Math.round(redeemStarted - runStarted)
  const redeemRes = await request(`${base}/redeem`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ token: status.token, grant: status.grant, paymentMethod: options.paymentMethod ?? 'pm_card_visa' }),
  })
  const redeemMs = performance.now() - redeemStarted
  if (redeemRes.status !== 202) {
    return { outcome: 'refused', detail: (await json<ErrorBody>(redeemRes)).error?.code, joinMs, redeemMs, redeemAt, polls }
  }
  const { orderId } = await json<RedeemResponse>(redeemRes)
  for (;;) {
    if (Date.now() > deadline) return { outcome: 'gave_up', orderId, joinMs, redeemMs, redeemAt, polls }
    // one long-poll per few seconds instead of a poll every few hundred milliseconds
    const res = await request(`${options.edgeUrl}/api/orders/${orderId}?waitMs=${ORDER_WAIT_MS}`, { headers })
    polls += 1
    if (!res.ok) {
      await sleep(500)
      continue
    }
    const order = await json<Order>(res)
    if (order.status === 'confirmed') return { outcome: 'confirmed', orderId, joinMs, redeemMs, redeemAt, polls }
    if (order.status === 'failed') return { outcome: 'payment_failed', orderId, detail: order.failureReason ?? undefined, joinMs, redeemMs, redeemAt, polls }
  }
}

export async function runShoppers(options: ShopperRunOptions): Promise<ShopperRunSummary> {
  const started = performance.now()
  const deadline = Date.now() + (options.deadlineMs ?? 110_000)
  let done = 0
  const results = await Promise.all(
    Array.from({ length: options.shoppers }, async () => {
      if (options.arrivalMs) await sleep(Math.random() * options.arrivalMs)
      const result = await shop(options, deadline, started).catch((error: Error): ShopperResult => ({ outcome: 'error', detail: error.message, joinMs: 0, polls: 0 }))
      result.endedAt = Math.round(performance.now() - started)
      options.onResult?.(result, ++done)
      return result
    }),
  )
  const byOutcome = { confirmed: 0, payment_failed: 0, sold_out: 0, refused: 0, gave_up: 0, error: 0 } as Record<ShopperOutcome, number>
  for (const r of results) byOutcome[r.outcome] += 1
  return {
    results,
    byOutcome,
    redeemMs: results.flatMap((r) => (r.redeemMs === undefined ? [] : [r.redeemMs])),
    joinMs: results.map((r) => r.joinMs),
    polls: results.reduce((n, r) => n + r.polls, 0),
    seconds: (performance.now() - started) / 1000,
  }
}
