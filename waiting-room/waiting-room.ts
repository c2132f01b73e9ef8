/**
 * WaitingRoom: one Durable Object per sale (`env.WAITING_ROOM.idFromName(saleId)`).
 *
 * It holds the sale's pre-generated purchase tokens and a FIFO line of shoppers. From `startsAt` it admits
 * shoppers in join order at `admitPerMinute`; each admission binds one available token to one shopper with a
 * signed grant (`signGrant`, GRANT_SECRET) at a new generation. Core sells only against a token plus a live
 * grant for that generation, and tells the room what finally happened (`applyOutcomes`). Grants that lapse are
 * fenced by core (`/internal/sales/:saleId/grants/expire`) before their token goes back to the pool, so a token
 * is never in two shoppers' hands at once.
 *
 * Every mutation is a synchronous block of SQL (no `await` inside), so concurrent calls cannot interleave in the
 * middle of an admission. Grants are deterministic (HMAC over fixed fields), so they are signed after the
 * admission is committed and the same grant is returned every time the shopper asks.
 *
 * Scale (issue 3): a sale may use N of these objects ("shards", `shardName`): each holds a share of the line
 * and of the token pool and admits at admitPerMinute / N. Shoppers poll the edge, not the object: the edge
 * answers from the shopper's signed queue ticket and this object's `frontier()` snapshot, cached ~1 s per edge
 * instance. Order: pre-queue joiners are shuffled at the start with a committed seed (`ord` = shuffle key in
 * [0, 1)); later joiners queue FIFO behind them (`ord` = 1 + seq). Admission always follows `ord`.
 */
import { DurableObject } from 'cloudflare:workers'
import type { z } from 'zod'
import {
  ExpireGrantsResponse,
  GRANT_FENCE_DELAY_MS,
  peekPurchaseToken,
  signGrant,
  newShuffleSeed,
  seedCommitment,
  shuffleKey,
  type ErrorCode,
  type ExpireGrantsRequest,
  type IssuanceEntry,
  type RoomMode,
  type RoomReport,
  type RoomSteer,
  type LoadTokensResponse,
  type RoomConfig,
  type RoomStats,
  type RoomStatus,
  type TokenOutcome,
  type TokenRef,
} from '../contracts/index.ts'
import type { Env } from '../edge/env.ts'
import type { RoomFrontier } from './frontier.ts'

export type { RoomFrontier } from './frontier.ts'

/** How often the alarm ticks while someone is waiting or a grant is outstanding. */
export const TICK_MS = 1_000
/**
 * A grant is only sent to core for expiry this long after `exp`: a redeem the edge received before `exp` may
 * reach core up to the receipt window later and must find the grant unfenced (contracts/edge-receipt.ts).
 */
export const GRANT_GRACE_MS = GRANT_FENCE_DELAY_MS
/** Largest `ExpireGrantsRequest` batch. */
export const EXPIRE_BATCH = 1_000
/** At most this much admission budget is banked: a late alarm catches up, an idle room does not stampede. */
export const MAX_BURST_MS = 10_000
/** Cap on admissions written in one synchronous pass; the rest of the budget carries to the next pass. */
export const MAX_ADMIT_PER_PASS = 5_000
export const MIN_REFRESH_MS = 500
export const MAX_REFRESH_MS = 10_000
/**
 * While every unit is held by admitted shoppers, a waiting shopper can only move when one comes back
 * (a failed payment or a lapsed grant): polling faster than this only loads the room.
 */
export const NO_UNIT_FREE_REFRESH_MS = 4_000
/** ... plus that much again for every this many shoppers ahead, up to MAX_REFRESH_MS. */
export const NO_UNIT_FREE_SLOWDOWN_PER = 250
const CORE_TIMEOUT_MS = 10_000

/** A parsed `RoomConfig` (defaults applied). */
export type RoomSettings = z.output<typeof RoomConfig>

export type RoomError = { code: ErrorCode; message: string; field?: string }
/** RPC results: expected failures are values (error classes do not survive RPC), bugs still throw. */
export type RoomResult<T> = { ok: true; value: T } | { ok: false; error: RoomError }

type TokenState = 'available' | 'granted' | 'redeemed' | 'sold'
type TokenCounts = Record<TokenState, number> & { loaded: number }

type RoomRow = {
  sale_id: string | null
  starts_at: number | null
  starts_at_iso: string | null
  admit_per_minute: number | null
  token_ttl_seconds: number | null
  last_tick: number | null
  budget: number
  admitted_total: number
  recycled_total: number
  shard: number
  shards: number
  mode: RoomMode
  max_active: number | null
  max_places_per_ip: number | null
  prequeue_order: 'shuffle' | 'fifo'
  seed: string | null
  commitment: string | null
  through_ord: number | null
  sale_sold_out: number
}

/** A join: what the shopper sees, plus the place the edge signs into the queue ticket. */
export type JoinResult = { status: RoomStatus; shard: number; seq: number; pre: boolean; joinedAt: number }

/** A token one shard lent to a shopper waiting in another shard's line. */
export type LentRef = { shopper: string; tid: string; gen: number }
export type LentToken = LentRef & { token: string; iat: number; exp: number }

type QueueRow = {
  seq: number
  shopper: string
  joined_at: number
  state: 'waiting' | 'admitted' | 'expired'
  tid: string | null
  gen: number | null
  grant: string | null
  grant_iat: number | null
  grant_exp: number | null
  ord: number | null
  pre: number
  /** Set when the shopper holds a token lent by another shard (`remote_shard`): its text, for the grant. */
  token: string | null
  remote_shard: number | null
}

type Config = {
  saleId: string
  startsAt: number
  admitPerMinute: number
  tokenTtlSeconds: number
  shards: number
  mode: RoomMode
  maxActive: number | null
  prequeueOrder: 'shuffle' | 'fifo'
}

/** Object name of shard `shard` of a sale; shard 0 keeps the sale id, so a one-shard sale is one object. */
export function shardName(saleId: string, shard: number): string {
  return shard === 0 ? saleId : `${saleId}~${shard}`
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS room (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     sale_id TEXT,
     starts_at INTEGER,
     starts_at_iso TEXT,
     admit_per_minute INTEGER,
     token_ttl_seconds INTEGER,
     last_tick INTEGER,
     budget REAL NOT NULL DEFAULT 0,
     admitted_total INTEGER NOT NULL DEFAULT 0,
     recycled_total INTEGER NOT NULL DEFAULT 0
   )`,
  `INSERT OR IGNORE INTO room (id) VALUES (1)`,
  `CREATE TABLE IF NOT EXISTS tokens (
     tid TEXT PRIMARY KEY,
     n INTEGER NOT NULL UNIQUE,
     token TEXT NOT NULL,
     gen INTEGER NOT NULL DEFAULT 0,
     state TEXT NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'granted', 'redeemed', 'sold')),
     holder TEXT,
     grant_exp INTEGER
   )`,
  `CREATE INDEX IF NOT EXISTS tokens_by_state ON tokens (state, n)`,
  `CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (state, grant_exp)`,
  `CREATE TABLE IF NOT EXISTS queue (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     shopper TEXT NOT NULL UNIQUE,
     joined_at INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'admitted', 'expired')),
     tid TEXT,
     gen INTEGER,
     "grant" TEXT,
     grant_iat INTEGER,
     grant_exp INTEGER
   )`,
  `CREATE INDEX IF NOT EXISTS queue_by_state ON queue (state, seq)`,
  `CREATE TABLE IF NOT EXISTS issuance (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     shopper TEXT NOT NULL,
     tid TEXT NOT NULL,
     gen INTEGER NOT NULL,
     pre INTEGER NOT NULL,
     ord REAL NOT NULL,
     joined_at INTEGER NOT NULL,
     admitted_at INTEGER NOT NULL
   )`,
]

/** Columns added after v1 (SQLite has no ADD COLUMN IF NOT EXISTS). */
const ADDED_COLUMNS: Array<[table: string, column: string, definition: string]> = [
  ['room', 'shard', 'INTEGER NOT NULL DEFAULT 0'],
  ['room', 'shards', 'INTEGER NOT NULL DEFAULT 1'],
  ['room', 'mode', `TEXT NOT NULL DEFAULT 'open'`],
  ['room', 'max_active', 'INTEGER'],
  ['room', 'max_places_per_ip', 'INTEGER'],
  ['room', 'prequeue_order', `TEXT NOT NULL DEFAULT 'fifo'`],
  ['room', 'seed', 'TEXT'],
  ['room', 'commitment', 'TEXT'],
  ['room', 'through_ord', 'REAL'],
  ['queue', 'ord', 'REAL'],
  ['queue', 'pre', 'INTEGER NOT NULL DEFAULT 0'],
  ['queue', 'ip', 'TEXT'],
  ['queue', 'token', 'TEXT'],
  ['queue', 'remote_shard', 'INTEGER'],
  ['tokens', 'holder_shard', 'INTEGER'],
  ['room', 'sale_sold_out', 'INTEGER NOT NULL DEFAULT 0'],
]
const LATE_INDEXES = [
  `CREATE INDEX IF NOT EXISTS queue_by_ord_seq ON queue (state, ord, seq)`,
  `CREATE INDEX IF NOT EXISTS queue_by_ip ON queue (ip)`,
]

const ok = <T>(value: T): RoomResult<T> => ({ ok: true, value })
const fail = <T>(code: ErrorCode, message: string, field?: string): RoomResult<T> => ({
  ok: false,
  error: field === undefined ? { code, message } : { code, message, field },
})

export class WaitingRoom extends DurableObject<Env> {
  /** Token counts by state; dropped after every token write and recounted on demand. */
  private counts: TokenCounts | null = null
  /** Lent tokens released in the last transaction: their borrowing shard is told after it commits. */
  private releasedLent: Array<{ shard: number; ref: LentRef }> = []

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    void ctx.blockConcurrencyWhile(async () => {
      for (const statement of SCHEMA) ctx.storage.sql.exec(statement)
      for (const [table, column, definition] of ADDED_COLUMNS) {
        const has = ctx.storage.sql.exec(`SELECT 1 FROM pragma_table_info('${table}') WHERE name = ?`, column).toArray()
        if (has.length === 0) ctx.storage.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`)
      }
      for (const statement of LATE_INDEXES) ctx.storage.sql.exec(statement)
    })
  }

  // ------------------------------------------------------------------ RPC: operator

  /**
   * Creates or replaces the room's config. Changing the rate live is fine: budget so far accrues at the old rate.
   * `placement` says which shard this object is and carries the sale's shuffle seed to shards other than 0;
   * the seed is drawn once (by the first configure) and never changes, and its commitment is kept.
   */
  async configure(
    config: Omit<RoomSettings, 'shards' | 'prequeueOrder'> & Partial<Pick<RoomSettings, 'shards' | 'prequeueOrder'>>,
    placement: { shard?: number; seed?: string } = {},
  ): Promise<RoomResult<RoomSettings & { commitment: string }>> {
    const bound = this.bindSale(config.saleId)
    if (bound) return bound
    const now = this.now()
    const startsAt = Date.parse(config.startsAt)
    const existing = this.room()
    if (existing.shards !== (config.shards ?? 1) && this.tokenCounts().loaded > 0 && existing.starts_at !== null) {
      return fail('invalid_body', 'shards cannot change once tokens are loaded', 'shards')
    }
    const seed = existing.seed ?? placement.seed ?? newShuffleSeed()
    const commitment = existing.commitment ?? (await seedCommitment(seed))
    this.tx(() => {
      this.sql(
        `UPDATE room SET shard = ?, shards = ?, max_active = ?, max_places_per_ip = ?, prequeue_order = ?, seed = ?,
                commitment = ? WHERE id = 1`,
        placement.shard ?? existing.shard ?? 0,
        config.shards ?? 1,
        config.maxActive ?? null,
        config.maxPlacesPerIp ?? null,
        config.prequeueOrder ?? 'shuffle',
        seed,
        commitment,
      )
      // Settle the time so far at the old rate; only time from now on accrues at the new one.
      this.admit(now)
      // A room that was not open yet (or is new) accrues from the new startsAt; a sale moved to the future
      // starts from an empty budget.
      const previous = this.config()
      const open = now >= startsAt && previous !== null && now >= previous.startsAt
      const carried = open ? this.budgetAt(previous, this.room(), now) : 0
      const shardRate = config.admitPerMinute / (config.shards ?? 1)
      this.sql(
        `UPDATE room SET starts_at = ?, starts_at_iso = ?, admit_per_minute = ?, token_ttl_seconds = ?,
                last_tick = ?, budget = ? WHERE id = 1`,
        startsAt,
        config.startsAt,
        config.admitPerMinute,
        config.tokenTtlSeconds,
        open ? now : null,
        open ? Math.min(carried, burstCapacity(shardRate)) : 0,
      )
    })
    await this.scheduleAlarm(now)
    return ok({ ...config, shards: config.shards ?? 1, prequeueOrder: config.prequeueOrder ?? 'shuffle', commitment })
  }

  /** The shuffle seed, for the edge to hand to the sale's other shards. Never sent to shoppers before the start. */
  async shuffleSeed(saleId: string): Promise<RoomResult<string | null>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    return ok(this.room().seed)
  }

  /**
   * Live steering: rate, cap on active shoppers, pause / resume / queue-all. Time up to now is settled at the
   * old settings; paused time accrues no admission budget.
   */
  async steer(saleId: string, steer: RoomSteer): Promise<RoomResult<RoomStats>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    if (!this.config()) return fail('room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    const now = this.now()
    this.tx(() => {
      this.admit(now)
      const config = this.config()!
      const room = this.room()
      const open = now >= config.startsAt
      const budget = open ? this.budgetAt(config, room, now) : room.budget
      const rate = steer.admitPerMinute ?? config.admitPerMinute
      this.sql(
        `UPDATE room SET admit_per_minute = ?, max_active = ?, mode = ?, last_tick = ?, budget = ? WHERE id = 1`,
        rate,
        steer.maxActive === undefined ? config.maxActive : steer.maxActive,
        steer.mode ?? config.mode,
        open ? now : room.last_tick,
        Math.min(budget, burstCapacity(rate / config.shards)),
      )
      this.admit(now)
    })
    await this.scheduleAlarm(now)
    return this.stats(saleId)
  }

  /** The snapshot the edge caches to answer polls (see `RoomFrontier`). */
  async frontier(saleId: string): Promise<RoomResult<RoomFrontier>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const config = this.config()
    if (!config) return fail('room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    const now = this.now()
    const admitted = this.tx(() => this.admit(now))
    if (admitted > 0) await this.scheduleAlarm(now)
    const room = this.room()
    const counts = this.tokenCounts()
    const waiting = this.rows<{ pre: number; c: number }>(
      `SELECT pre, COUNT(*) AS c FROM queue WHERE state = 'waiting' GROUP BY pre`,
    )
    return ok({
      saleId,
      shard: room.shard,
      shards: config.shards,
      at: now,
      startsAt: config.startsAt,
      mode: config.mode,
      admitPerMinute: config.admitPerMinute,
      prequeueOrder: config.prequeueOrder,
      seed: now >= config.startsAt ? room.seed : null,
      throughOrd: room.through_ord ?? -1,
      waiting: waiting.reduce((n, r) => n + r.c, 0),
      prequeueWaiting: waiting.find((r) => r.pre === 1)?.c ?? 0,
      prequeueJoined: this.one<{ c: number }>(`SELECT COUNT(*) AS c FROM queue WHERE pre = 1`).c,
      loaded: counts.loaded,
      available: counts.available,
      granted: counts.granted,
      redeemed: counts.redeemed,
      sold: counts.sold,
      maxPlacesPerIp: room.max_places_per_ip,
    })
  }

  /** This shard's part of the fairness report: commitment, seed once revealed, pre-queue join list, issuance log. */
  async report(saleId: string): Promise<RoomResult<RoomReport>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const config = this.config()
    if (!config) return fail('room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    const room = this.room()
    const started = this.now() >= config.startsAt
    const issuance = this.rows<{
      shopper: string
      tid: string
      gen: number
      pre: number
      ord: number
      joined_at: number
      admitted_at: number
    }>(`SELECT shopper, tid, gen, pre, ord, joined_at, admitted_at FROM issuance ORDER BY id`).map(
      (r): IssuanceEntry => ({
        shard: room.shard,
        shopper: r.shopper,
        tid: r.tid,
        gen: r.gen,
        pre: r.pre === 1,
        ord: r.ord,
        joinedAt: r.joined_at,
        admittedAt: r.admitted_at,
      }),
    )
    const prequeue = this.rows<{ shopper: string }>(`SELECT shopper FROM queue WHERE pre = 1 ORDER BY seq`).map((r) => r.shopper)
    return ok({
      saleId,
      shards: config.shards,
      startsAt: new Date(config.startsAt).toISOString(),
      commitment: room.commitment,
      seed: started ? room.seed : null,
      joined: this.one<{ c: number }>(`SELECT COALESCE(MAX(seq), 0) AS c FROM queue`).c,
      admitted: room.admitted_total,
      prequeue: [{ shard: room.shard, shoppers: prequeue }],
      issuance,
    })
  }

  /**
   * Adds purchase tokens. Each is read with `peekPurchaseToken` (the edge cannot verify signatures; core does).
   * All-or-nothing: one token that does not parse or names another sale rejects the whole batch.
   */
  async loadTokens(saleId: string, tokens: string[]): Promise<RoomResult<LoadTokensResponse>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const parsed: { tid: string; token: string }[] = []
    for (const [i, token] of tokens.entries()) {
      const payload = peekPurchaseToken(token)
      if (!payload) return fail('invalid_body', `tokens.${i}: not a purchase token`, `tokens.${i}`)
      if (payload.sale !== saleId) {
        return fail('invalid_body', `tokens.${i}: token is for sale ${payload.sale}, not ${saleId}`, `tokens.${i}`)
      }
      parsed.push({ tid: payload.tid, token })
    }
    const now = this.now()
    const result = this.tx(() => {
      let next = this.one<{ n: number }>(`SELECT COALESCE(MAX(n), 0) AS n FROM tokens`).n
      let loaded = 0
      let duplicates = 0
      for (const { tid, token } of parsed) {
        if (this.rows(`SELECT 1 FROM tokens WHERE tid = ?`, tid).length > 0) {
          duplicates++
          continue
        }
        this.sql(`INSERT INTO tokens (tid, n, token) VALUES (?, ?, ?)`, tid, ++next, token)
        loaded++
      }
      this.counts = null
      this.admit(now)
      return { saleId, loaded, duplicates, total: this.tokenCounts().loaded }
    })
    await this.scheduleAlarm(now)
    return ok(result)
  }

  /**
   * Core's word on redeemed tokens. `sold` is final; `returned` puts the token back in the pool for the next
   * shopper in line. Only an outcome for the token's current generation applies; anything else is ignored,
   * so repeating a batch is safe.
   */
  async applyOutcomes(saleId: string, outcomes: TokenOutcome[]): Promise<RoomResult<{ applied: number }>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const now = this.now()
    const applied = this.tx(() => {
      let applied = 0
      for (const { tid, gen, outcome } of outcomes) {
        const token = this.rows<{ state: TokenState; holder: string | null }>(
          `SELECT state, holder FROM tokens WHERE tid = ? AND gen = ? AND state IN ('granted', 'redeemed')`,
          tid,
          gen,
        )[0]
        if (!token) continue
        if (outcome === 'sold') {
          this.sql(`UPDATE tokens SET state = 'sold', grant_exp = NULL WHERE tid = ?`, tid)
        } else {
          this.release(tid, gen, token.holder)
        }
        applied++
      }
      if (applied > 0) {
        this.counts = null
        this.admit(now)
      }
      return applied
    })
    await this.notifyLentReleased()
    await this.scheduleAlarm(now)
    return ok({ applied })
  }

  async stats(saleId: string): Promise<RoomResult<RoomStats>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const counts = this.tokenCounts()
    const room = this.room()
    return ok({
      saleId,
      configured: room.starts_at !== null,
      tokensLoaded: counts.loaded,
      available: counts.available,
      granted: counts.granted,
      redeemed: counts.redeemed,
      sold: counts.sold,
      queued: this.one<{ c: number }>(`SELECT COUNT(*) AS c FROM queue WHERE state = 'waiting'`).c,
      admitted: room.admitted_total,
      recycled: room.recycled_total,
      shards: room.shards,
      mode: room.mode,
      admitPerMinute: room.admit_per_minute,
      maxActive: room.max_active,
      commitment: room.commitment,
      seed: room.starts_at !== null && this.now() >= room.starts_at ? room.seed : null,
    })
  }

  // ------------------------------------------------------------------ RPC: shoppers

  /**
   * Puts a shopper in line (or finds its existing place: joining twice is a no-op). A shopper whose grant
   * lapsed joins again at the back.
   */
  async join(saleId: string, shopper: string, ip?: string): Promise<RoomResult<RoomStatus>> {
    const joined = await this.place(saleId, shopper, ip)
    return joined.ok ? ok(joined.value.status) : joined
  }

  /**
   * `join` for the edge: also returns the place (shard, seq, pre-queue or not) that the edge signs into the
   * shopper's queue ticket. `ip` (a hash of the client address) enforces `maxPlacesPerIp`.
   */
  async place(saleId: string, shopper: string, ip?: string): Promise<RoomResult<JoinResult>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const config = this.config()
    if (!config) return fail('room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    const now = this.now()
    const room = this.room()
    const pre = now < config.startsAt
    // The pre-queue order key is computed now (the seed is secret until the start) and stored, never shown early.
    const key = pre && config.prequeueOrder === 'shuffle' && room.seed ? await shuffleKey(room.seed, shopper) : null
    const refused = this.tx((): RoomResult<never> | null => {
      const row = this.queueRow(shopper)
      const requeue = row?.state === 'expired' && !this.soldOut()
      if (!row || requeue) {
        if (ip !== undefined && room.max_places_per_ip !== null) {
          const held = this.one<{ c: number }>(`SELECT COUNT(*) AS c FROM queue WHERE ip = ? AND state != 'expired'`, ip).c
          if (held >= room.max_places_per_ip) {
            return fail('place_limit', `this network already holds ${held} places in line (limit ${room.max_places_per_ip})`)
          }
        }
        if (requeue) this.sql(`DELETE FROM queue WHERE seq = ?`, row.seq)
        this.sql(`INSERT INTO queue (shopper, joined_at, pre, ip) VALUES (?, ?, ?, ?)`, shopper, now, pre ? 1 : 0, ip ?? null)
        // FIFO places: 1 + seq (after every pre-queue place, which is < 1 with the shuffle).
        if (key !== null) this.sql(`UPDATE queue SET ord = ? WHERE shopper = ?`, key, shopper)
        else this.sql(`UPDATE queue SET ord = 1 + seq WHERE shopper = ?`, shopper)
      }
      this.admit(now)
      return null
    })
    if (refused) return refused
    await this.scheduleAlarm(now)
    const row = this.queueRow(shopper)!
    return ok({ status: await this.describe(config, shopper, now), shard: room.shard, seq: row.seq, pre: row.pre === 1, joinedAt: row.joined_at })
  }

  /** Where a shopper stands. `not_found` when the shopper never joined. */
  async status(saleId: string, shopper: string): Promise<RoomResult<RoomStatus>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const config = this.config()
    if (!config) return fail('room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    const now = this.now()
    if (!this.queueRow(shopper)) return fail('not_found', 'this session has not joined the line: join first')
    const admitted = this.tx(() => this.admit(now))
    if (admitted > 0) await this.scheduleAlarm(now)
    return ok(await this.describe(config, shopper, now))
  }

  // ------------------------------------------------------------------ RPC: other shards of the sale

  /**
   * Lends tokens this shard's own line does not need (available beyond the shoppers waiting here) to shoppers
   * waiting in shard `to`'s line, one each, in the order given: each token is granted here (new generation,
   * `holder_shard` = to), so expiry and core's outcomes stay with this shard as for any grant. Asking again for
   * a shopper who already holds a lent token returns the same one (a lost answer is simply asked again).
   */
  async lend(saleId: string, to: number, shoppers: string[]): Promise<RoomResult<LentToken[]>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const config = this.config()
    if (!config) return fail('room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    const now = this.now()
    if (now < config.startsAt) return ok([])
    const lent = this.tx(() => {
      this.admit(now)
      const out: LentToken[] = []
      const iat = Math.floor(now / 1000)
      const exp = now + config.tokenTtlSeconds * 1000
      const fresh: string[] = []
      for (const shopper of shoppers) {
        const held = this.rows<{ tid: string; gen: number; token: string; grant_exp: number }>(
          `SELECT tid, gen, token, grant_exp FROM tokens WHERE holder = ? AND holder_shard = ? AND state = 'granted'`,
          shopper,
          to,
        )[0]
        if (held) out.push({ shopper, tid: held.tid, gen: held.gen, token: held.token, iat: Math.floor((held.grant_exp - config.tokenTtlSeconds * 1000) / 1000), exp: held.grant_exp })
        else fresh.push(shopper)
      }
      const waitingHere = this.one<{ c: number }>(`SELECT COUNT(*) AS c FROM queue WHERE state = 'waiting'`).c
      const spare = Math.max(0, this.tokenCounts().available - waitingHere)
      const tokens = this.rows<{ tid: string; gen: number; token: string }>(
        // The last tokens this shard would use itself.
        `SELECT tid, gen, token FROM tokens WHERE state = 'available' ORDER BY n DESC LIMIT ?`,
        Math.min(spare, fresh.length),
      )
      for (const [i, t] of tokens.entries()) {
        const shopper = fresh[i]!
        this.sql(
          `UPDATE tokens SET state = 'granted', gen = ?, holder = ?, holder_shard = ?, grant_exp = ? WHERE tid = ? AND state = 'available'`,
          t.gen + 1,
          shopper,
          to,
          exp,
          t.tid,
        )
        out.push({ shopper, tid: t.tid, gen: t.gen + 1, token: t.token, iat, exp })
      }
      if (tokens.length > 0) this.counts = null
      return out
    })
    await this.scheduleAlarm(now)
    return ok(lent)
  }

  /**
   * Takes back lent tokens the borrowing shard could not use (the shopper was admitted meanwhile). Their grants
   * were never signed, so nobody can redeem them: they go straight back to the pool.
   */
  async unlend(saleId: string, from: number, refs: LentRef[]): Promise<RoomResult<{ released: number }>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const now = this.now()
    const released = this.tx(() => {
      let n = 0
      for (const { shopper, tid, gen } of refs) {
        const hit = this.rows(
          `SELECT 1 FROM tokens WHERE tid = ? AND gen = ? AND holder = ? AND holder_shard = ? AND state = 'granted'`,
          tid,
          gen,
          shopper,
          from,
        )
        if (hit.length === 0) continue
        this.sql(`UPDATE tokens SET state = 'available', holder = NULL, holder_shard = NULL, grant_exp = NULL WHERE tid = ?`, tid)
        n++
      }
      if (n > 0) {
        this.counts = null
        this.admit(now)
      }
      return n
    })
    await this.scheduleAlarm(now)
    return ok({ released })
  }

  /** The lending shard took these tokens back (grant lapsed, payment failed): their holders' places are spent. */
  async lentReleased(saleId: string, refs: LentRef[]): Promise<RoomResult<{ expired: number }>> {
    const bound = this.bindSale(saleId)
    if (bound) return bound
    const expired = this.tx(() => {
      let n = 0
      for (const { shopper, tid, gen } of refs) {
        n += this.ctx.storage.sql.exec(
          `UPDATE queue SET state = 'expired' WHERE shopper = ? AND tid = ? AND gen = ? AND state = 'admitted' AND remote_shard IS NOT NULL`,
          shopper,
          tid,
          gen,
        ).rowsWritten
      }
      return n
    })
    return ok({ expired })
  }

  // ------------------------------------------------------------------ timed work

  override async alarm(): Promise<void> {
    this.tx(() => this.admit(this.now()))
    await this.expireGrants(this.now())
    await this.notifyLentReleased()
    this.tx(() => this.admit(this.now()))
    await this.borrow(this.now())
    await this.scheduleAlarm(this.now(), { replace: true })
  }

  // ------------------------------------------------------------------ internals

  /** Milliseconds since the epoch. One place, so tests can move time (`vi.setSystemTime`). */
  private now(): number {
    return Date.now()
  }

  /**
   * Admits waiting shoppers in seq order, as far as the budget and available tokens allow. Synchronous:
   * call inside `transactionSync`. Returns how many were admitted.
   */
  private admit(now: number): number {
    const config = this.config()
    if (!config || now < config.startsAt || config.mode !== 'open') return 0
    let budget = this.budgetAt(config, this.room(), now)
    const counts = this.tokenCounts()
    // Never read more of the line than there are tokens to give: while every unit is held, a full budget would
    // otherwise make each join and poll read thousands of queue rows to admit nobody.
    let take = Math.min(Math.floor(budget), MAX_ADMIT_PER_PASS, counts.available)
    if (config.maxActive !== null) {
      take = Math.min(take, Math.max(0, Math.ceil(config.maxActive / config.shards) - counts.granted - counts.redeemed))
    }
    let admitted = 0
    let throughOrd: number | null = null
    if (take > 0) {
      const shoppers = this.rows<{ seq: number; shopper: string; ord: number; pre: number; joined_at: number }>(
        `SELECT seq, shopper, ord, pre, joined_at FROM queue WHERE state = 'waiting' ORDER BY ord, seq LIMIT ?`,
        take,
      )
      const tokens = shoppers.length
        ? this.rows<{ tid: string; gen: number }>(
            `SELECT tid, gen FROM tokens WHERE state = 'available' ORDER BY n LIMIT ?`,
            shoppers.length,
          )
        : []
      const iat = Math.floor(now / 1000)
      const exp = now + config.tokenTtlSeconds * 1000
      for (const [i, token] of tokens.entries()) {
        const { seq, shopper, ord, pre, joined_at } = shoppers[i]!
        const gen = token.gen + 1
        throughOrd = ord
        this.recordIssuance(shopper, token.tid, gen, pre, ord, joined_at, now)
        this.sql(
          `UPDATE tokens SET state = 'granted', gen = ?, holder = ?, holder_shard = NULL, grant_exp = ?
           WHERE tid = ? AND state = 'available'`,
          gen,
          shopper,
          exp,
          token.tid,
        )
        this.sql(
          `UPDATE queue SET state = 'admitted', tid = ?, gen = ?, "grant" = NULL, grant_iat = ?, grant_exp = ?
           WHERE seq = ?`,
          token.tid,
          gen,
          iat,
          exp,
          seq,
        )
        admitted++
      }
      budget -= admitted
      if (admitted > 0) this.counts = null
    }
    // Nothing admitted: leave (last_tick, budget) alone. Accruing later from the old tick gives the same budget
    // (the cap is monotone), and a poll that admits nobody then costs no write.
    if (admitted > 0) {
      this.recordAdmissions(now, budget, admitted, throughOrd)
    }
    return admitted
  }

  /** Admissions the rate allows at `now`: banked budget plus what accrued since the last tick, capped. */
  private budgetAt(config: Config, room: RoomRow, now: number): number {
    const rate = config.admitPerMinute / config.shards
    if (config.mode !== 'open') return Math.min(room.budget, burstCapacity(rate))
    const from = Math.max(config.startsAt, room.last_tick ?? config.startsAt)
    const accrued = (Math.max(0, now - from) * rate) / 60_000
    return Math.min(room.budget + accrued, burstCapacity(rate))
  }

  /**
   * This shard of several has shoppers waiting and no token of its own to give them: it looks to its siblings
   * (lending, and hearing when the whole sale is sold out) every tick.
   */
  private starved(config: Config, now: number): boolean {
    if (config.shards <= 1 || now < config.startsAt || config.mode !== 'open') return false
    if (this.room().sale_sold_out === 1 || this.tokenCounts().available > 0) return false
    return this.rows(`SELECT 1 FROM queue WHERE state = 'waiting' LIMIT 1`).length > 0
  }

  private sibling(saleId: string, shard: number) {
    return this.env.WAITING_ROOM.get(this.env.WAITING_ROOM.idFromName(shardName(saleId, shard)))
  }

  /**
   * A starved shard (see `starved`) borrows: it reads its siblings' frontiers and asks those with tokens their
   * own lines do not need to lend them to the front of its line, within its own admission budget. Tokens are
   * pinned to shards by id, so without this a unit returned to a shard whose line is empty would go unsold
   * while other lines wait. When every shard's pool is spent for good, the sale is sold out here too.
   */
  private async borrow(now: number): Promise<void> {
    const config = this.config()
    if (!config || !this.starved(config, now)) return
    const me = this.room().shard
    const others = (
      await Promise.all(
        Array.from({ length: config.shards }, async (_, i) => {
          if (i === me) return null
          try {
            const result = await this.sibling(config.saleId, i).frontier(config.saleId)
            return result.ok ? result.value : null
          } catch (err) {
            console.warn(`waiting-room ${config.saleId}#${me}: shard ${i} unreachable (${String(err)})`)
            return null
          }
        }),
      )
    ).filter((f): f is RoomFrontier => f !== null)
    if (others.length === config.shards - 1) {
      const mine = this.tokenCounts()
      const all = [...others.map((f) => ({ loaded: f.loaded, sold: f.sold })), { loaded: mine.loaded, sold: mine.sold }]
      // `sold` only grows and sold tokens never move: every shard spent is final, whenever each was read.
      if (all.some((f) => f.loaded > 0) && all.every((f) => f.sold === f.loaded)) {
        this.sql(`UPDATE room SET sale_sold_out = 1 WHERE id = 1`)
        return
      }
    }
    const donors = others.map((f) => ({ shard: f.shard, spare: f.available - f.waiting })).filter((d) => d.spare > 0)
    if (donors.length === 0) return
    let take = Math.min(Math.floor(this.budgetAt(config, this.room(), now)), MAX_ADMIT_PER_PASS, donors.reduce((n, d) => n + d.spare, 0))
    if (config.maxActive !== null) {
      const counts = this.tokenCounts()
      const lentActive = this.one<{ c: number }>(
        `SELECT COUNT(*) AS c FROM queue WHERE state = 'admitted' AND remote_shard IS NOT NULL AND grant_exp > ?`,
        now,
      ).c
      take = Math.min(take, Math.max(0, Math.ceil(config.maxActive / config.shards) - counts.granted - counts.redeemed - lentActive))
    }
    if (take <= 0) return
    const front = this.rows<{ shopper: string }>(
      `SELECT shopper FROM queue WHERE state = 'waiting' ORDER BY ord, seq LIMIT ?`,
      take,
    ).map((r) => r.shopper)
    const asks: Array<{ shard: number; shoppers: string[] }> = []
    for (const d of donors) {
      const shoppers = front.splice(0, d.spare)
      if (shoppers.length) asks.push({ shard: d.shard, shoppers })
    }
    const answers = await Promise.all(
      asks.map(async (a) => {
        try {
          const result = await this.sibling(config.saleId, a.shard).lend(config.saleId, me, a.shoppers)
          return { shard: a.shard, lent: result.ok ? result.value : [] }
        } catch (err) {
          console.warn(`waiting-room ${config.saleId}#${me}: borrowing from shard ${a.shard} failed (${String(err)})`)
          return { shard: a.shard, lent: [] }
        }
      }),
    )
    const at = this.now()
    const unused = this.tx(() => {
      const back: Array<{ shard: number; refs: LentRef[] }> = []
      let admitted = 0
      let throughOrd: number | null = null
      for (const { shard, lent } of answers) {
        const refs: LentRef[] = []
        for (const t of lent) {
          const row = this.queueRow(t.shopper)
          if (row?.state !== 'waiting') {
            refs.push({ shopper: t.shopper, tid: t.tid, gen: t.gen })
            continue
          }
          this.recordIssuance(t.shopper, t.tid, t.gen, row.pre, row.ord ?? 1 + row.seq, row.joined_at, at)
          this.sql(
            `UPDATE queue SET state = 'admitted', tid = ?, gen = ?, "grant" = NULL, grant_iat = ?, grant_exp = ?, token = ?,
                    remote_shard = ? WHERE seq = ?`,
            t.tid,
            t.gen,
            t.iat,
            t.exp,
            t.token,
            shard,
            row.seq,
          )
          throughOrd = Math.max(throughOrd ?? -1, row.ord ?? 1 + row.seq)
          admitted++
        }
        if (refs.length) back.push({ shard, refs })
      }
      if (admitted > 0) {
        const budget = this.budgetAt(config, this.room(), at) - admitted
        this.recordAdmissions(at, budget, admitted, throughOrd)
      }
      return back
    })
    await Promise.all(
      unused.map(async ({ shard, refs }) => {
        try {
          await this.sibling(config.saleId, shard).unlend(config.saleId, me, refs)
        } catch (err) {
          // The lender's alarm fences and recycles them once their grants lapse.
          console.warn(`waiting-room ${config.saleId}#${me}: giving lent tokens back to shard ${shard} failed (${String(err)})`)
        }
      }),
    )
  }

  /** Tells borrowing shards that tokens lent to their shoppers came back (see `release`). Best effort. */
  private async notifyLentReleased(): Promise<void> {
    const config = this.config()
    const pending = this.releasedLent
    this.releasedLent = []
    if (!config || pending.length === 0) return
    const byShard = new Map<number, LentRef[]>()
    for (const { shard, ref } of pending) byShard.set(shard, [...(byShard.get(shard) ?? []), ref])
    await Promise.all(
      [...byShard].map(async ([shard, refs]) => {
        try {
          await this.sibling(config.saleId, shard).lentReleased(config.saleId, refs)
        } catch (err) {
          console.warn(`waiting-room ${config.saleId}: telling shard ${shard} its lent tokens came back failed (${String(err)})`)
        }
      }),
    )
  }

  /** Token back to the pool (same gen; the next admission bumps it) and its holder's place is spent. */
  private release(tid: string, gen: number, holder: string | null): void {
    const lentTo = this.rows<{ s: number | null }>(`SELECT holder_shard AS s FROM tokens WHERE tid = ?`, tid)[0]?.s ?? null
    if (lentTo !== null && holder !== null) this.releasedLent.push({ shard: lentTo, ref: { shopper: holder, tid, gen } })
    this.sql(`UPDATE tokens SET state = 'available', holder = NULL, holder_shard = NULL, grant_exp = NULL WHERE tid = ?`, tid)
    if (holder !== null) {
      this.sql(
        `UPDATE queue SET state = 'expired' WHERE shopper = ? AND tid = ? AND gen = ? AND state = 'admitted'`,
        holder,
        tid,
        gen,
      )
    }
    this.sql(`UPDATE room SET recycled_total = recycled_total + 1 WHERE id = 1`)
  }

  /**
   * Asks core about grants past `exp + GRANT_GRACE_MS`. Core fences each (tid, gen) so a late redeem fails, and
   * answers `voided` (token back to the pool) or `redeemed` (await core's outcome). If core cannot be reached
   * the tokens stay granted and the next alarm asks again.
   */
  private async expireGrants(now: number): Promise<void> {
    const config = this.config()
    if (!config) return
    const due = this.rows<{ tid: string; gen: number }>(
      `SELECT tid, gen FROM tokens WHERE state = 'granted' AND grant_exp <= ? ORDER BY grant_exp LIMIT ?`,
      now - GRANT_GRACE_MS,
      EXPIRE_BATCH,
    )
    if (due.length === 0) return
    const body: ExpireGrantsRequest = { grants: due satisfies TokenRef[] }
    let results: ExpireGrantsResponse['results']
    try {
      const res = await fetch(`${this.env.CORE_URL}/internal/sales/${config.saleId}/grants/expire`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.env.CORE_INTERNAL_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(CORE_TIMEOUT_MS),
      })
      if (!res.ok) {
        console.warn(`waiting-room ${config.saleId}: core answered ${res.status} to grants/expire; retrying next tick`)
        return
      }
      const parsed = ExpireGrantsResponse.safeParse(await res.json())
      if (!parsed.success) {
        console.warn(`waiting-room ${config.saleId}: unexpected grants/expire response; retrying next tick`)
        return
      }
      results = parsed.data.results
    } catch (err) {
      console.warn(`waiting-room ${config.saleId}: core unreachable for grants/expire (${String(err)}); retrying next tick`)
      return
    }
    const asked = new Set(due.map((g) => `${g.tid}:${g.gen}`))
    this.tx(() => {
      for (const result of results) {
        if (!asked.has(`${result.tid}:${result.gen}`)) continue
        // Still the same grant? (An outcome may have landed while we were waiting on core.)
        const token = this.rows<{ holder: string | null }>(
          `SELECT holder FROM tokens WHERE tid = ? AND gen = ? AND state = 'granted'`,
          result.tid,
          result.gen,
        )[0]
        if (!token) continue
        if (result.state === 'voided') this.release(result.tid, result.gen, token.holder)
        else this.sql(`UPDATE tokens SET state = 'redeemed', grant_exp = NULL WHERE tid = ?`, result.tid)
      }
      this.counts = null
    })
  }

  /**
   * Keeps one alarm ~every TICK_MS while there is timed work: shoppers waiting for an available token, or
   * grants outstanding. An idle room (or one waiting only on core's outcomes) gets no alarm.
   */
  private async scheduleAlarm(now: number, { replace = false } = {}): Promise<void> {
    const config = this.config()
    if (!config) return
    const counts = this.tokenCounts()
    let next: number | null = null
    if (counts.granted > 0) {
      const earliest = this.one<{ exp: number | null }>(
        `SELECT MIN(grant_exp) AS exp FROM tokens WHERE state = 'granted'`,
      ).exp
      next = Math.max(now + TICK_MS, (earliest ?? now) + GRANT_GRACE_MS)
    }
    if (
      config.mode === 'open' &&
      counts.available > 0 &&
      this.rows(`SELECT 1 FROM queue WHERE state = 'waiting' LIMIT 1`).length > 0
    ) {
      const admitAt = now < config.startsAt ? config.startsAt : now + TICK_MS
      next = next === null ? admitAt : Math.min(next, admitAt)
    }
    if (this.starved(config, now)) next = next === null ? now + TICK_MS : Math.min(next, now + TICK_MS)
    if (next === null) return
    // Inside alarm() the alarm that is running is spent: always set the next one.
    const current = replace ? null : await this.ctx.storage.getAlarm()
    if (current === null || current > next) await this.ctx.storage.setAlarm(next)
  }

  /** What a shopper sees. Signs (and stores) the grant on first read; signing is deterministic. */
  private async describe(config: Config, shopper: string, now: number): Promise<RoomStatus> {
    const row = this.queueRow(shopper)
    const counts = this.tokenCounts()
    const base = {
      saleId: config.saleId,
      position: null,
      ahead: null,
      unitsLeft: counts.loaded - counts.sold,
      refreshMs: 0,
      token: null,
      grant: null,
      grantExpiresAt: null,
    }
    if (row?.state === 'admitted' && row.tid !== null && row.gen !== null && row.grant_exp !== null) {
      const token = row.token ?? this.one<{ token: string }>(`SELECT token FROM tokens WHERE tid = ?`, row.tid).token
      let grant = row.grant
      if (grant === null) {
        grant = await signGrant(
          { sale: config.saleId, tid: row.tid, gen: row.gen, sub: shopper, iat: row.grant_iat ?? 0, exp: row.grant_exp },
          this.env.GRANT_SECRET,
        )
        this.sql(`UPDATE queue SET "grant" = ? WHERE seq = ? AND gen = ? AND "grant" IS NULL`, grant, row.seq, row.gen)
      }
      return { ...base, state: 'admitted', token, grant, grantExpiresAt: row.grant_exp }
    }
    if (!row || this.soldOut()) return { ...base, state: 'sold_out' }
    if (row.state === 'expired') return { ...base, state: 'expired' }
    const notStarted = now < config.startsAt
    if (notStarted && row.pre === 1 && config.prequeueOrder === 'shuffle') {
      // The order is drawn at the start; telling it early would let one person keep only their luckiest sessions.
      return {
        ...base,
        state: 'not_started',
        refreshMs: Math.round(Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, (config.startsAt - now) / 2))),
        etaSeconds: Math.ceil((config.startsAt - now) / 1000),
      }
    }
    const ahead = this.one<{ c: number }>(
      // Two index range counts: an OR across both would make SQLite scan every waiting row.
      `SELECT (SELECT COUNT(*) FROM queue WHERE state = 'waiting' AND ord < ?)
            + (SELECT COUNT(*) FROM queue WHERE state = 'waiting' AND ord = ? AND seq < ?) AS c`,
      row.ord ?? 0,
      row.ord ?? 0,
      row.seq,
    ).c
    const waitMs = (notStarted ? config.startsAt - now : 0) + (ahead * 60_000 * config.shards) / config.admitPerMinute
    // With no unit free, shoppers move only as units come back, one at a time from the front: the
    // further back, the slower it is worth asking.
    const floorMs =
      !notStarted && this.tokenCounts().available === 0
        ? NO_UNIT_FREE_REFRESH_MS * (1 + ahead / NO_UNIT_FREE_SLOWDOWN_PER)
        : MIN_REFRESH_MS
    return {
      ...base,
      state: notStarted ? 'not_started' : 'waiting',
      position: ahead + 1,
      ahead,
      refreshMs: Math.round(Math.min(MAX_REFRESH_MS, Math.max(floorMs, waitMs / 2))),
      etaSeconds: Math.ceil(waitMs / 1000),
      // While the operator holds admission an ETA would be a promise nobody keeps.
      ...(!notStarted && config.mode !== 'open' ? { admission: config.mode, etaSeconds: null } : {}),
    }
  }

  /** Every loaded token is sold: nothing available, granted or redeemed can come back to anyone. */
  private soldOut(): boolean {
    const counts = this.tokenCounts()
    const here = counts.available + counts.granted + counts.redeemed === 0
    // One of several shards: its own pool being spent says nothing; other shards lend what they do not need.
    if (this.room().shards > 1) return here && this.room().sale_sold_out === 1
    return counts.loaded > 0 && here
  }

  private tokenCounts(): TokenCounts {
    if (this.counts) return this.counts
    const counts: TokenCounts = { loaded: 0, available: 0, granted: 0, redeemed: 0, sold: 0 }
    for (const { state, c } of this.rows<{ state: TokenState; c: number }>(
      `SELECT state, COUNT(*) AS c FROM tokens GROUP BY state`,
    )) {
      counts[state] = c
      counts.loaded += c
    }
    this.counts = counts
    return counts
  }

  /** `transactionSync` that also forgets cached counts when it rolls back. */
  private tx<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn)
    } catch (err) {
      this.counts = null
      this.releasedLent = []
      throw err
    }
  }

  /** Remembers which sale this object serves; refuses to act for another one. */
  private bindSale(saleId: string): RoomResult<never> | null {
    const current = this.room().sale_id
    if (current === null) this.sql(`UPDATE room SET sale_id = ? WHERE id = 1`, saleId)
    else if (current !== saleId) return fail('invalid_path', `this room serves sale ${current}, not ${saleId}`, 'saleId')
    return null
  }

  private config(): Config | null {
    const room = this.room()
    if (room.sale_id === null || room.starts_at === null || room.admit_per_minute === null) return null
    return {
      saleId: room.sale_id,
      startsAt: room.starts_at,
      admitPerMinute: room.admit_per_minute,
      tokenTtlSeconds: room.token_ttl_seconds ?? 300,
      shards: room.shards,
      mode: room.mode,
      maxActive: room.max_active,
      prequeueOrder: room.prequeue_order,
    }
  }

  private room(): RoomRow {
    return this.one<RoomRow>(`SELECT * FROM room WHERE id = 1`)
  }

  /** The issuance log: who was given which token generation, when, from which place in line (the fairness report). */
  private recordIssuance(shopper: string, tid: string, gen: number, pre: SqlStorageValue, ord: SqlStorageValue, joinedAt: SqlStorageValue, at: number): void {
    this.sql(`INSERT INTO issuance (shopper, tid, gen, pre, ord, joined_at, admitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)`, shopper, tid, gen, pre, ord, joinedAt, at)
  }

  /** Admissions spend rate budget as of `at` and advance the admitted frontier. */
  private recordAdmissions(at: number, budget: number, admitted: number, throughOrd: SqlStorageValue): void {
    this.sql(
      `UPDATE room SET last_tick = ?, budget = ?, admitted_total = admitted_total + ?,
              through_ord = MAX(COALESCE(through_ord, -1), ?) WHERE id = 1`,
      at,
      budget,
      admitted,
      throughOrd,
    )
  }

  private queueRow(shopper: string): QueueRow | undefined {
    return this.rows<QueueRow>(`SELECT * FROM queue WHERE shopper = ?`, shopper)[0]
  }

  private sql(query: string, ...bindings: SqlStorageValue[]): void {
    this.ctx.storage.sql.exec(query, ...bindings)
  }

  private rows<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: SqlStorageValue[]): T[] {
    return this.ctx.storage.sql.exec<T>(query, ...bindings).toArray()
  }

  private one<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: SqlStorageValue[]): T {
    return this.ctx.storage.sql.exec<T>(query, ...bindings).one()
  }
}

/** Admission budget banked at most: MAX_BURST_MS worth of the rate, and at least one shopper. */
function burstCapacity(admitPerMinute: number): number {
  return Math.max(1, (admitPerMinute * MAX_BURST_MS) / 60_000)
}
