import type { Redis } from 'ioredis'
import type { TokenRef } from '../../contracts/index.ts'
import { saleKeys, type SaleKeys } from './keys.ts'
import replies from './replies.json'
import { loadScripts } from './script-loader.ts'

/**
 * Reply codes of every stock script, named in one table that the scripts read too (`--- @include "replies"`
 * defines `Reply` from replies.json), so a code means one thing everywhere. Callers never compare bare numbers.
 */
export const Reply = replies
export type ReplyName = keyof typeof replies

const REFUSAL_NAMES = [
  'SoldOut',
  'TokenUsed',
  'LimitReached',
  'HoldGone',
  'GrantSuperseded',
  'IdempotencyKeyConflict',
  'GrantExpired',
  'SaleNotFound',
  'Inconsistent',
  'CheckoutsBusy',
] as const satisfies readonly ReplyName[]
/** The refusals a stock script can answer (negative codes). */
export type ScriptError = (typeof replies)[(typeof REFUSAL_NAMES)[number]]
export const ScriptError = Object.fromEntries(REFUSAL_NAMES.map((name) => [name, replies[name]])) as {
  [K in (typeof REFUSAL_NAMES)[number]]: number
}
/** The name of a reply code, for logs and metric labels. */
export function replyName(code: number): string {
  return (Object.keys(replies) as ReplyName[]).find((name) => replies[name] === code) ?? String(code)
}

/** What Postgres knows of a sale, handed to rebuildSale when Redis lost the sale's keys. */
export interface SaleRebuild {
  sold: number
  /** tid -> "gen|status|orderId|shopper" (the latest generation's order). */
  tokens: Array<[string, string]>
  /** Orders still settling: [orderId, tid, gen, shopper, expiresAtMs (0 = committed, cannot expire)]. */
  holds: Array<[string, string, number, string, number]>
}

export type RedeemResult = { kind: 'held' | 'replayed'; orderId: string } | { kind: 'refused'; error: ScriptError }
/** 'sale_missing': Redis does not have the sale (lost, rebuild pending), so whether the hold exists is unknown. */
export type HoldState = 'held' | 'committed' | 'none' | 'sale_missing'
/**
 * What a checkout saga finds of its hold (adoptHold): 'returned' when there is none and the token generation is
 * fenced as released (tell the room), 'taken' when there is none and the token belongs to another order or a
 * later generation (tell nobody).
 */
export type AdoptedHold = 'held' | 'committed' | 'returned' | 'taken' | 'sale_missing'
export interface ReleasedHold extends TokenRef {
  orderId: string
}

/** What addCheckoutJobs needs of a BullMQ Queue (its key names). */
export interface BullQueueKeys {
  keys: { [key: string]: string }
  toKey(type: string): string
}

/** The queue keys addCheckoutJobs-6.lua takes, in its order. */
const BULL_KEYS = ['wait', 'meta', 'id', 'events', 'marker', 'active'] as const

type Command = (...args: (string | number)[]) => Promise<unknown>

/**
 * The only way core talks to the stock scripts. Each script has one `<name>Args()` that lists the keys
 * in the order of the script's header, then its arguments.
 */
export class Scripts {
  private static scripts = loadScripts()

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    for (const script of Scripts.scripts) {
      if (!(script.name in redis))
        redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua })
    }
  }

  keys(saleId: string): SaleKeys {
    return saleKeys(this.prefix, saleId)
  }

  private exec(name: string, args: (string | number)[]): Promise<unknown> {
    return ((this.redis as unknown as Record<string, Command>)[name] as Command).call(this.redis, ...args)
  }

  /** Source of every script, for benchmarks that call EVALSHA directly. */
  static source(name: string): string {
    return Scripts.script(name).lua
  }

  /** How many of a script's arguments are keys (the `-<keys>` of its file name), for a direct EVALSHA. */
  static keyCount(name: string): number {
    return Scripts.script(name).numberOfKeys
  }

  private static script(name: string) {
    const script = Scripts.scripts.find((s) => s.name === name)
    if (!script) throw new Error(`no script ${name}`)
    return script
  }

  async seedSale(
    saleId: string,
    sale: { stock: number; perShopperLimit: number; holdTtlSeconds: number },
  ): Promise<boolean> {
    const k = this.keys(saleId)
    const created = await this.exec('seedSale', [
      k.meta,
      k.stock,
      k.sold,
      k.holds,
      sale.stock,
      sale.perShopperLimit,
      sale.holdTtlSeconds * 1000,
    ])
    return created === Reply.Created
  }

  async redeemToken(saleId: string, input: RedeemInput): Promise<RedeemResult> {
    const [code, orderId] = (await this.exec('redeemToken', redeemTokenArgs(this.keys(saleId), input))) as [
      number,
      string?,
    ]
    if (code === Reply.NewHold) return { kind: 'held', orderId: orderId! }
    if (code === Reply.Replay) return { kind: 'replayed', orderId: orderId! }
    return { kind: 'refused', error: code as ScriptError }
  }

  /** The sale's checkout outbox: orderId -> checkout job JSON, written by redeemToken with each new hold. */
  async checkoutOutbox(
    saleId: string,
    cursor = '0',
    count = 500,
  ): Promise<{ cursor: string; entries: Array<[string, string]> }> {
    const [next, flat] = await this.redis.hscan(this.keys(saleId).checkouts, cursor, 'COUNT', count)
    const entries: Array<[string, string]> = []
    for (let i = 0; i < flat.length; i += 2) entries.push([flat[i]!, flat[i + 1]!])
    return { cursor: next, entries }
  }

  /** Removes forwarded entries from the sale's checkout outbox. */
  async dropFromCheckoutOutbox(saleId: string, orderIds: string[]): Promise<void> {
    if (orderIds.length) await this.redis.hdel(this.keys(saleId).checkouts, ...orderIds)
  }

  /**
   * Adds checkout jobs (id, data JSON) to a BullMQ queue in one script call, stored as Queue.add stores
   * them (see addCheckoutJobs-6.lua). Existing ids are left alone. Returns how many were new.
   */
  async addCheckoutJobs(
    queue: BullQueueKeys,
    name: string,
    optsJson: string,
    timestamp: number,
    jobs: Array<[string, string]>,
  ): Promise<number> {
    const args: (string | number)[] = [
      ...BULL_KEYS.map((key) => queue.keys[key] ?? queue.toKey(key)),
      queue.toKey(''),
      name,
      optsJson,
      timestamp,
    ]
    for (const [id, data] of jobs) args.push(id, data)
    return (await this.exec('addCheckoutJobs', args)) as number
  }

  async holdState(saleId: string, orderId: string): Promise<HoldState> {
    const k = this.keys(saleId)
    const state = await this.exec('holdState', [k.meta, k.holds, k.holdInfo, orderId])
    if (state === Reply.HoldActive) return 'held'
    if (state === Reply.HoldCommitted) return 'committed'
    return state === Reply.SaleNotFound ? 'sale_missing' : 'none'
  }

  /** The saga's look at its hold: adopts it, or fences the token generation before the room is told (adoptHold-5.lua). */
  async adoptHold(
    saleId: string,
    hold: { orderId: string; tid: string; gen: number; shopper: string },
  ): Promise<AdoptedHold> {
    const k = this.keys(saleId)
    const args = [k.meta, k.holds, k.holdInfo, k.tokens, k.released, hold.orderId, hold.tid, hold.gen, hold.shopper]
    const state = await this.exec('adoptHold', args)
    if (state === Reply.HoldActive) return 'held'
    if (state === Reply.HoldCommitted) return 'committed'
    if (state === Reply.Released) return 'returned'
    if (state === Reply.NoHold) return 'taken'
    if (state === Reply.SaleNotFound) return 'sale_missing'
    throw new Error(`adoptHold ${saleId} ${hold.orderId}: ${replyName(state as number)}`)
  }

  /** True when the hold is now out of reach of the expiry sweep; false when it had already expired. */
  async commitHold(saleId: string, orderId: string): Promise<boolean> {
    const k = this.keys(saleId)
    return (await this.exec('commitHold', [k.holds, k.holdInfo, k.tokens, orderId])) === Reply.HoldCommitted
  }

  async finalizeHold(saleId: string, orderId: string): Promise<TokenRef | null> {
    const k = this.keys(saleId)
    const [done, tid, gen] = (await this.exec('finalizeHold', [k.holds, k.holdInfo, k.tokens, k.sold, orderId])) as [
      number,
      string?,
      string?,
    ]
    return done === Reply.Sold ? { tid: tid!, gen: Number(gen) } : null
  }

  /**
   * Gives the order's held unit back and answers the token to return to the room: also when the hold was
   * already given back (an earlier call, or the expiry sweep), so a caller that died between the release
   * and telling the room tells it on its retry instead of never. Null when the order has no hold to give
   * back (never held, or sold). Telling the room twice is safe: outcomes are idempotent per (tid, gen).
   */
  async releaseHold(saleId: string, orderId: string, nowMs = Date.now()): Promise<TokenRef | null> {
    const k = this.keys(saleId)
    const [done, tid, gen] = (await this.exec('releaseHold', [...releaseKeys(k), orderId, nowMs])) as [
      number,
      string?,
      string?,
    ]
    return done === Reply.Released || done === Reply.ReleasedBefore ? { tid: tid!, gen: Number(gen) } : null
  }

  async releaseExpiredHolds(saleId: string, nowMs: number, max = 500): Promise<ReleasedHold[]> {
    const k = this.keys(saleId)
    const flat = (await this.exec('releaseExpiredHolds', [...releaseKeys(k), nowMs, max])) as string[]
    const out: ReleasedHold[] = []
    for (let i = 0; i < flat.length; i += 3)
      out.push({ orderId: flat[i]!, tid: flat[i + 1]!, gen: Number(flat[i + 2]) })
    return out
  }

  /** Rebuilds a sale Redis lost (meta gone). Null when the sale still exists in Redis (nothing done). */
  async rebuildSale(
    saleId: string,
    sale: { stock: number; perShopperLimit: number; holdTtlSeconds: number },
    data: SaleRebuild,
  ): Promise<{ available: number } | null> {
    const k = this.keys(saleId)
    const [code, available] = (await this.exec('rebuildSale', [
      k.meta,
      k.stock,
      k.sold,
      k.tokens,
      k.holds,
      k.holdInfo,
      k.shoppers,
      sale.stock,
      sale.perShopperLimit,
      sale.holdTtlSeconds * 1000,
      JSON.stringify(data),
    ])) as [number, number?]
    if (code === Reply.Exists) return null
    if (code !== Reply.Created) throw new Error(`rebuildSale ${saleId}: ${replyName(code)}`)
    return { available: available! }
  }

  /**
   * Tokens released (by releaseHold or the expiry sweep) at or before `releasedBy`, oldest first: the room outbox,
   * which the hold sweep announces to the room again and then clears (clearRoomOutbox).
   */
  async roomOutbox(saleId: string, releasedBy: number, max = 1000): Promise<TokenRef[]> {
    const members = await this.redis.zrangebyscore(this.keys(saleId).roomOutbox, '-inf', releasedBy, 'LIMIT', 0, max)
    return members.map((m) => {
      const [tid, gen] = m.split('|')
      return { tid: tid!, gen: Number(gen) }
    })
  }

  async clearRoomOutbox(saleId: string, tokens: TokenRef[]): Promise<void> {
    if (tokens.length) await this.redis.zrem(this.keys(saleId).roomOutbox, ...tokens.map((t) => `${t.tid}|${t.gen}`))
  }

  /** Order ids of every hold of the sale (held or committed): a plain read, the holds in flight. */
  async holdOrderIds(saleId: string): Promise<string[]> {
    return this.redis.hkeys(this.keys(saleId).holdInfo)
  }

  /** Whether Redis still has the sale at all (its meta hash). */
  async saleExists(saleId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys(saleId).meta)) === 1
  }

  async expireGrants(saleId: string, grants: TokenRef[]): Promise<Array<TokenRef & { state: 'voided' | 'redeemed' }>> {
    const k = this.keys(saleId)
    const flat = (await this.exec('expireGrants', [k.tokens, ...grants.flatMap((g) => [g.tid, g.gen])])) as number[]
    return grants.map((g, i) => ({ ...g, state: flat[i] === Reply.GrantRedeemed ? 'redeemed' : 'voided' }))
  }

  /** available + held + sold, straight from the counters. */
  async counters(saleId: string): Promise<{ stock: number | null; available: number; held: number; sold: number }> {
    const k = this.keys(saleId)
    const [stock, available, held, sold] = (await this.redis
      .multi()
      .hget(k.meta, 'stock')
      .get(k.stock)
      .hlen(k.holdInfo)
      .get(k.sold)
      .exec())!.map(([, v]) => v) as [string | null, string | null, number, string | null]
    return {
      stock: stock === null ? null : Number(stock),
      available: Number(available ?? 0),
      held,
      sold: Number(sold ?? 0),
    }
  }
}

/** KEYS and ARGV of redeemToken-8.lua, in its order (the benchmark's raw EVALSHA ceiling sends the same). */
export function redeemTokenArgs(k: SaleKeys, r: RedeemInput): (string | number)[] {
  return [
    k.meta,
    k.stock,
    k.tokens,
    k.holds,
    k.holdInfo,
    k.shoppers,
    k.idempotency,
    k.checkouts,
    r.tid,
    r.gen,
    r.shopper,
    r.idempotencyKey,
    r.orderId,
    r.nowMs,
    r.grantExpiresAtMs,
    r.maxCheckouts ?? 0,
    r.checkoutJob ?? '',
    r.receivedAtMs ?? r.nowMs,
  ]
}

export interface RedeemInput {
  tid: string
  gen: number
  shopper: string
  idempotencyKey: string
  orderId: string
  nowMs: number
  /** When the edge received the request: the grant's expiry is judged at this time (default nowMs). */
  receivedAtMs?: number
  grantExpiresAtMs: number
  /** Cap on units held while their payment runs (0 or absent: no cap). */
  maxCheckouts?: number
  /** The checkout job (JSON) to put in the sale's outbox with a new hold, atomically (absent: none). */
  checkoutJob?: string
}

/** The KEYS of releaseHold-7.lua and releaseExpiredHolds-7.lua, in order: the ones includes/releaseOne.lua takes. */
function releaseKeys(k: SaleKeys): string[] {
  return [k.stock, k.holds, k.holdInfo, k.tokens, k.shoppers, k.released, k.roomOutbox]
}
