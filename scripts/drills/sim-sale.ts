import { setTimeout as sleep } from 'node:timers/promises'
import {
  signAsEdge,
  randomId,
  shopperOf,
  signGrant,
  signPurchaseToken,
  type TokenOutcome,
} from '../../contracts/index.ts'
import type { DrillSale, RoomView } from './drill.ts'
import { DEV, settings } from './settings.ts'

export const adminHeaders = { authorization: `Bearer ${DEV.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' }

/**
 * One HTTP call of the drills, which stand in for the edge: a call to core's `/v1/*` carries the edge's receipt
 * (fresh for each attempt, bound to its session and Idempotency-Key, as the edge signs it). Null: no answer.
 */
export async function http(
  url: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<{ status: number; body: any } | null> {
  try {
    const headers = new Headers(init.headers)
    await signAsEdge(headers, DEV.CORE_INTERNAL_TOKEN, init.method ?? 'GET', new URL(url).pathname)
    const res = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(init.timeoutMs ?? 8000) })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  } catch {
    return null
  }
}

/** One shopper's visit with a token, as the simulated room saw it. */
export interface Visit {
  who: number
  gen: number
  orderId?: string
  /** 'shopping', 'order confirmed|failed', 'refused <code>', 'gave up at its deadline', 'stopped' */
  ended: string
  /** The last thing the shopper was told about its order (null: nothing, e.g. every attempt got a 5xx). */
  lastTold: 'pending' | 'confirmed' | 'failed' | null
  at: string
}

/**
 * A live sale against core's API directly, with the waiting room simulated: the drills' RoomDouble receives
 * core's token outcomes over HTTP and this class hands a returned token to the next shopper in line at
 * generation + 1, as the real room does. Shoppers retry with the same Idempotency-Key on 5xx, as real clients do.
 */
export class SimSale implements DrillSale {
  readonly queue = Array.from({ length: settings.shoppers }, (_, i) => i)
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
        body: JSON.stringify({
          saleId: this.saleId,
          sku: 'DRILL',
          name: 'Drill drop',
          priceCents: 4999,
          stock: settings.stock,
          holdTtlSeconds: 30,
          startsAt: new Date().toISOString(),
        }),
      })
      if (res && res.status < 300) break
      await sleep(200)
    }
    for (let i = 0; i < settings.stock; i++) void this.serve(`tok_drill${String(i).padStart(12, '0')}`)
  }

  get done(): boolean {
    return this.inflight === 0 && (this.sold.size >= settings.stock || this.queue.length === 0)
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

  stop(): void {
    this.stopped = true
  }

  /** Every order placed before the heal has its outcome in the room (sold, or returned and re-issued). */
  async caughtUp(orders: Array<{ token_id: string; token_gen: number; status: string }>): Promise<boolean> {
    return orders.every((o) =>
      o.status === 'CONFIRMED'
        ? this.seen.has(`${o.token_id}.${o.token_gen}.sold`)
        : o.status === 'FAILED'
          ? this.seen.has(`${o.token_id}.${o.token_gen}.returned`) || (this.gens.get(o.token_id) ?? 0) > o.token_gen
          : false,
    )
  }

  shoppersUninformed(confirmed: Array<{ tid: string; gen: number }>): number {
    return confirmed.filter(({ tid, gen }) => {
      const visit = this.last.get(tid)
      return visit?.gen !== gen || visit.lastTold !== 'confirmed'
    }).length
  }

  progress(): Record<string, unknown> {
    return { inflight: this.inflight, sold: this.sold.size, queue: this.queue.length }
  }

  roomView(): RoomView {
    return {
      stuckTokens: () => this.stuckTokens(),
      heard: (tid, gen, outcome) => this.seen.has(`${tid}.${gen}.${outcome}`),
      gen: (tid) => this.gens.get(tid),
      sold: (tid) => this.sold.has(tid),
      visit: (tid) => this.last.get(tid),
      outcomes: (tid) => this.heard.get(tid) ?? [],
    }
  }

  private async serve(tid: string): Promise<void> {
    if (this.stopped) return
    const who = this.queue.shift()
    if (who === undefined) return
    const gen = (this.gens.get(tid) ?? 0) + 1
    this.gens.set(tid, gen)
    this.inflight++
    this.shopping.add(tid)
    const last: Visit = { who, gen, ended: 'shopping', lastTold: null, at: new Date().toISOString().slice(11, 23) }
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
    const paymentMethod = Math.random() < settings.declineRate ? 'pm_card_chargeDeclined' : 'pm_card_visa'
    let token = this.tokens.get(tid)
    if (!token) {
      token = await signPurchaseToken({ sale: this.saleId, tid, iat: Math.floor(Date.now() / 1000) }, DEV.TOKEN_SECRET)
      this.tokens.set(tid, token)
    }
    const grant = await signGrant(
      {
        sale: this.saleId,
        tid,
        gen,
        sub: await shopperOf(session),
        iat: Math.floor(Date.now() / 1000),
        exp: Date.now() + 15 * 60_000,
      },
      DEV.GRANT_SECRET,
    )
    this.handed.set(tid, { token, grant, session })
    const headers = { 'content-type': 'application/json', 'x-floodgate-session': session, 'idempotency-key': key }
    const deadline = Date.now() + settings.deadlineMs
    let orderId: string | undefined
    while (!this.stopped && Date.now() < deadline) {
      if (!orderId) {
        const res = await http(`${this.api()}/v1/redeem`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ token, grant, paymentMethod }),
        })
        if (res?.status === 202) {
          last.orderId = orderId = res.body.orderId
          last.lastTold = 'pending'
        } else if (res && res.status >= 400 && res.status < 500) {
          const code = res.body?.error?.code ?? String(res.status)
          this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1)
          return `refused ${code}`
        } else await sleep(250) // down, 5xx, 503 while restoring: retry with the same key, like a real client
        continue
      }
      const res = await http(`${this.api()}/v1/orders/${orderId}?waitMs=3000`, {
        headers: { 'x-floodgate-session': session },
      })
      if (res?.status === 200 && res.body.status !== 'pending') {
        last.lastTold = res.body.status
        return `order ${res.body.status}`
      }
      if (res?.status === 404)
        orderId = undefined // its job was lost with Redis: redeem again, same key, same order id
      else if (!res || res.status >= 500) await sleep(250)
    }
    return this.stopped ? 'stopped' : 'gave up at its deadline'
  }
}
