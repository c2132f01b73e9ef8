/**
 * The room's rows and the few values derived from them, over the object's SQLite storage. Every module of the
 * room reads and writes through one `RoomStore`, which also keeps the per-object caches (token counts) and
 * forgets them when a transaction rolls back.
 *
 * Every mutation is a synchronous block of SQL inside `tx` (no `await` inside), so concurrent RPCs cannot
 * interleave in the middle of an admission.
 */
import type { JoinPolicy, RoomMode } from '../contracts/index.ts'

export type TokenState = 'available' | 'granted' | 'redeemed' | 'sold'
export type TokenCounts = Record<TokenState, number> & { loaded: number }

export type RoomRow = {
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
  join_policy: JoinPolicy
  /** When the room was first configured: its pre-queue opened then. */
  configured_at: number | null
}

export type QueueRow = {
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
  /** The shopper's public id in this sale (contracts/fairness.ts). */
  public_id: string | null
}

/** A configured room's settings (see `RoomStore.config`). */
export type Config = {
  saleId: string
  startsAt: number
  admitPerMinute: number
  tokenTtlSeconds: number
  shards: number
  mode: RoomMode
  maxActive: number | null
  prequeueOrder: 'shuffle' | 'fifo'
}

/** A token one shard lent to a shopper waiting in another shard's line. */
export type LentRef = { shopper: string; tid: string; gen: number }

type Row = Record<string, SqlStorageValue>

/** A statement that writes the `room` row: the cached copy must be read again after it. */
const ROOM_WRITE = /^\s*(?:UPDATE|INSERT(?:\s+OR\s+\w+)?\s+INTO|DELETE\s+FROM)\s+room\b/i

export class RoomStore {
  /** Token counts by state; dropped after every token write (`tokensChanged`) and recounted on demand. */
  private counts: TokenCounts | null = null
  /** Lent tokens released in the current transaction: their borrowing shards are told after it commits. */
  releasedLent: Array<{ shard: number; ref: LentRef }> = []
  /**
   * The one `room` row, read once per call and kept until a statement writes it (or a transaction rolls back):
   * a call reads it several times (config, budget, mode), and a join paid for each read.
   */
  private roomRow: Readonly<RoomRow> | null = null

  constructor(readonly storage: DurableObjectStorage) {}

  /** Milliseconds since the epoch. One place, so tests can move time (`vi.setSystemTime`). */
  now(): number {
    return Date.now()
  }

  /** `transactionSync` that also forgets what it cached when it rolls back. */
  tx<T>(fn: () => T): T {
    try {
      return this.storage.transactionSync(fn)
    } catch (err) {
      this.counts = null
      this.roomRow = null
      this.releasedLent = []
      throw err
    }
  }

  exec(query: string, ...bindings: SqlStorageValue[]): void {
    if (ROOM_WRITE.test(query)) this.roomRow = null
    this.storage.sql.exec(query, ...bindings)
  }

  /** Runs a write and says how many rows it changed. */
  written(query: string, ...bindings: SqlStorageValue[]): number {
    if (ROOM_WRITE.test(query)) this.roomRow = null
    return this.storage.sql.exec(query, ...bindings).rowsWritten
  }

  rows<T extends Row>(query: string, ...bindings: SqlStorageValue[]): T[] {
    return this.storage.sql.exec<T>(query, ...bindings).toArray()
  }

  one<T extends Row>(query: string, ...bindings: SqlStorageValue[]): T {
    return this.storage.sql.exec<T>(query, ...bindings).one()
  }

  count(query: string, ...bindings: SqlStorageValue[]): number {
    return this.one<{ c: number }>(query, ...bindings).c
  }

  room(): Readonly<RoomRow> {
    this.roomRow ??= Object.freeze(this.one<RoomRow>(`SELECT * FROM room WHERE id = 1`))
    return this.roomRow
  }

  /** The room's settings, or null until `configure` has run. */
  config(): Config | null {
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

  tokenCounts(): TokenCounts {
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

  /** Forget the cached room row: each RPC starts from what storage holds. */
  fresh(): void {
    this.roomRow = null
  }

  /** Call after writing to `tokens`. */
  tokensChanged(): void {
    this.counts = null
  }

  queueRow(shopper: string): QueueRow | undefined {
    return this.rows<QueueRow>(`SELECT * FROM queue WHERE shopper = ?`, shopper)[0]
  }

  waitingCount(): number {
    return this.count(`SELECT COUNT(*) AS c FROM queue WHERE state = 'waiting'`)
  }

  anyoneWaiting(): boolean {
    return this.rows(`SELECT 1 FROM queue WHERE state = 'waiting' LIMIT 1`).length > 0
  }
}
