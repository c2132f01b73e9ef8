/**
 * Admission: from `startsAt` the room lets waiting shoppers in, in `ord` order (pre-queue shuffle keys in
 * [0, 1) first, then 1 + seq), at admitPerMinute / shards, while tokens are available. Each admission binds
 * one available token to one shopper at a new generation; the grant is signed when the shopper reads it
 * (status.ts).
 */
import type { Config, RoomRow, RoomStore } from './store.ts'

/** At most this much admission budget is banked: a late alarm catches up, an idle room does not stampede. */
export const MAX_BURST_MS = 10_000
/** Cap on admissions written in one synchronous pass; the rest of the budget carries to the next pass. */
export const MAX_ADMIT_PER_PASS = 5_000

/** Admission budget banked at most: MAX_BURST_MS worth of the rate, and at least one shopper. */
export function burstCapacity(admitPerMinute: number): number {
  return Math.max(1, (admitPerMinute * MAX_BURST_MS) / 60_000)
}

/** Admissions the rate allows at `now`: banked budget plus what accrued since the last tick, capped. */
export function budgetAt(config: Config, room: RoomRow, now: number): number {
  const rate = config.admitPerMinute / config.shards
  if (config.mode !== 'open') return Math.min(room.budget, burstCapacity(rate))
  const from = Math.max(config.startsAt, room.last_tick ?? config.startsAt)
  const accrued = (Math.max(0, now - from) * rate) / 60_000
  return Math.min(room.budget + accrued, burstCapacity(rate))
}

/**
 * How many more shoppers this shard may admit under `maxActive` (its share of it), counting `alsoActive()`.
 * Without a cap nothing is counted.
 */
export function activeHeadroom(config: Config, store: RoomStore, alsoActive = () => 0): number {
  if (config.maxActive === null) return Number.POSITIVE_INFINITY
  const counts = store.tokenCounts()
  return Math.max(0, Math.ceil(config.maxActive / config.shards) - counts.granted - counts.redeemed - alsoActive())
}

type Waiting = { seq: number; shopper: string; public_id: string | null; ord: number; pre: number; joined_at: number }

/**
 * Admits waiting shoppers in (ord, seq) order, as far as the budget and available tokens allow. Synchronous:
 * call inside `store.tx`. Returns how many were admitted.
 */
export function admit(store: RoomStore, asOf: number): number {
  // Callers pass the time their RPC started; other RPCs may have admitted shoppers while it awaited. Admitting
  // now with that older time would log a later place's admission before an earlier one's (the public fairness
  // proof checks that order), so admissions happen at the present, never before the last one.
  const now = Math.max(asOf, store.now(), store.room().last_tick ?? 0)
  const config = store.config()
  if (!config || now < config.startsAt || config.mode !== 'open') return 0
  let budget = budgetAt(config, store.room(), now)
  // Never read more of the line than there are tokens to give: while every unit is held, a full budget would
  // otherwise make each join and poll read thousands of queue rows to admit nobody.
  const take = Math.min(
    Math.floor(budget),
    MAX_ADMIT_PER_PASS,
    store.tokenCounts().available,
    activeHeadroom(config, store),
  )
  let admitted = 0
  let throughOrd: number | null = null
  if (take > 0) {
    const shoppers = store.rows<Waiting>(
      `SELECT seq, shopper, public_id, ord, pre, joined_at FROM queue
       WHERE state = 'waiting' ORDER BY ord, seq LIMIT ?`,
      take,
    )
    const tokens = shoppers.length
      ? store.rows<{ tid: string; gen: number }>(
          `SELECT tid, gen FROM tokens WHERE state = 'available' ORDER BY n LIMIT ?`,
          shoppers.length,
        )
      : []
    const iat = Math.floor(now / 1000)
    const exp = now + config.tokenTtlSeconds * 1000
    for (const [i, token] of tokens.entries()) {
      const { seq, shopper, public_id, ord, pre, joined_at } = shoppers[i]!
      const gen = token.gen + 1
      throughOrd = ord
      const issued = { shopper, publicId: public_id, tid: token.tid, gen, pre, ord, joinedAt: joined_at, at: now }
      recordIssuance(store, issued)
      store.exec(
        `UPDATE tokens SET state = 'granted', gen = ?, holder = ?, holder_shard = NULL, grant_exp = ?
         WHERE tid = ? AND state = 'available'`,
        gen,
        shopper,
        exp,
        token.tid,
      )
      store.exec(
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
    if (admitted > 0) store.tokensChanged()
  }
  // Nothing admitted: leave (last_tick, budget) alone. Accruing later from the old tick gives the same budget
  // (the cap is monotone), and a poll that admits nobody then costs no write.
  if (admitted > 0) recordAdmissions(store, now, budget, admitted, throughOrd)
  return admitted
}

export type Issuance = {
  shopper: string
  publicId: string | null
  tid: string
  gen: number
  pre: SqlStorageValue
  ord: SqlStorageValue
  joinedAt: SqlStorageValue
  at: number
}

/** The issuance log: who was given which token generation, when, from which place in line (the fairness report). */
export function recordIssuance(store: RoomStore, e: Issuance): void {
  store.exec(
    `INSERT INTO issuance (shopper, public_id, tid, gen, pre, ord, joined_at, admitted_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    e.shopper,
    e.publicId,
    e.tid,
    e.gen,
    e.pre,
    e.ord,
    e.joinedAt,
    e.at,
  )
}

/** Admissions spend rate budget as of `at` and advance the admitted frontier. */
export function recordAdmissions(
  store: RoomStore,
  at: number,
  budget: number,
  admitted: number,
  throughOrd: SqlStorageValue,
): void {
  store.exec(
    `UPDATE room SET last_tick = ?, budget = ?, admitted_total = admitted_total + ?,
            through_ord = MAX(COALESCE(through_ord, -1), ?) WHERE id = 1`,
    at,
    budget,
    admitted,
    throughOrd,
  )
}
