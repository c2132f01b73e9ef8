/**
 * Shard lending. Tokens are pinned to shards by id (`tokenShard`), so without this a unit returned to a shard
 * whose line is empty would go unsold while other lines wait. A starved shard (shoppers waiting, no token of
 * its own) reads its siblings' frontiers every tick and asks those with tokens their own lines do not need to
 * lend them to the front of its line, within its own admission budget. The lender grants each token itself
 * (new generation, `holder_shard` = borrower), so grant expiry and core's outcomes stay with the lender as for
 * any grant; the borrower admits the shopper with it. When every shard's pool is spent for good, the sale is
 * sold out in the starved shard too.
 */
import { activeHeadroom, admit, budgetAt, MAX_ADMIT_PER_PASS, recordAdmissions, recordIssuance } from './admission.ts'
import type { RoomFrontier } from './frontier.ts'
import type { RoomEnv } from './room-env.ts'
import { shardName } from './sharding.ts'
import type { Config, LentRef, RoomStore } from './store.ts'

export type LentToken = LentRef & { token: string; iat: number; exp: number }

function sibling(env: RoomEnv, saleId: string, shard: number) {
  return env.WAITING_ROOM.get(env.WAITING_ROOM.idFromName(shardName(saleId, shard)))
}

// ------------------------------------------------------------------ the lender

/**
 * Lends tokens this shard's own line does not need (available beyond the shoppers waiting here) to shoppers
 * waiting in shard `to`'s line, one each, in the order given. Asking again for a shopper who already holds a
 * lent token returns the same one (a lost answer is simply asked again).
 */
export function lend(store: RoomStore, config: Config, to: number, shoppers: string[], now: number): LentToken[] {
  if (now < config.startsAt) return []
  return store.tx(() => {
    admit(store, now)
    const out: LentToken[] = []
    const iat = Math.floor(now / 1000)
    const exp = now + config.tokenTtlSeconds * 1000
    const fresh: string[] = []
    for (const shopper of shoppers) {
      const held = store.rows<{ tid: string; gen: number; token: string; grant_exp: number }>(
        `SELECT tid, gen, token, grant_exp FROM tokens WHERE holder = ? AND holder_shard = ? AND state = 'granted'`,
        shopper,
        to,
      )[0]
      if (!held) fresh.push(shopper)
      else {
        const heldIat = Math.floor((held.grant_exp - config.tokenTtlSeconds * 1000) / 1000)
        out.push({ shopper, tid: held.tid, gen: held.gen, token: held.token, iat: heldIat, exp: held.grant_exp })
      }
    }
    const spare = Math.max(0, store.tokenCounts().available - store.waitingCount())
    const tokens = store.rows<{ tid: string; gen: number; token: string }>(
      // The last tokens this shard would use itself.
      `SELECT tid, gen, token FROM tokens WHERE state = 'available' ORDER BY n DESC LIMIT ?`,
      Math.min(spare, fresh.length),
    )
    for (const [i, t] of tokens.entries()) {
      const shopper = fresh[i]!
      store.exec(
        `UPDATE tokens SET state = 'granted', gen = ?, holder = ?, holder_shard = ?, grant_exp = ?
         WHERE tid = ? AND state = 'available'`,
        t.gen + 1,
        shopper,
        to,
        exp,
        t.tid,
      )
      out.push({ shopper, tid: t.tid, gen: t.gen + 1, token: t.token, iat, exp })
    }
    if (tokens.length > 0) store.tokensChanged()
    return out
  })
}

/**
 * Takes back lent tokens the borrowing shard could not use (the shopper was admitted meanwhile). Their grants
 * were never signed, so nobody can redeem them: they go straight back to the pool.
 */
export function unlend(store: RoomStore, from: number, refs: LentRef[], now: number): number {
  return store.tx(() => {
    let n = 0
    for (const { shopper, tid, gen } of refs) {
      const hit = store.rows(
        `SELECT 1 FROM tokens WHERE tid = ? AND gen = ? AND holder = ? AND holder_shard = ? AND state = 'granted'`,
        tid,
        gen,
        shopper,
        from,
      )
      if (hit.length === 0) continue
      store.exec(
        `UPDATE tokens SET state = 'available', holder = NULL, holder_shard = NULL, grant_exp = NULL WHERE tid = ?`,
        tid,
      )
      n++
    }
    if (n > 0) {
      store.tokensChanged()
      admit(store, now)
    }
    return n
  })
}

/** Tells borrowing shards that tokens lent to their shoppers came back (see `release`). Best effort. */
export async function notifyLentReleased(store: RoomStore, env: RoomEnv): Promise<void> {
  const config = store.config()
  const pending = store.releasedLent
  store.releasedLent = []
  if (!config || pending.length === 0) return
  const byShard = new Map<number, LentRef[]>()
  for (const { shard, ref } of pending) byShard.set(shard, [...(byShard.get(shard) ?? []), ref])
  await Promise.all(
    [...byShard].map(async ([shard, refs]) => {
      try {
        await sibling(env, config.saleId, shard).lentReleased(config.saleId, refs)
      } catch (err) {
        console.warn(
          `waiting-room ${config.saleId}: telling shard ${shard} its lent tokens came back failed (${String(err)})`,
        )
      }
    }),
  )
}

// ------------------------------------------------------------------ the borrower

/** The lending shard took these tokens back (grant lapsed, payment failed): their holders' places are spent. */
export function lentReleased(store: RoomStore, refs: LentRef[]): number {
  return store.tx(() => {
    let n = 0
    for (const { shopper, tid, gen } of refs) {
      n += store.written(
        `UPDATE queue SET state = 'expired'
         WHERE shopper = ? AND tid = ? AND gen = ? AND state = 'admitted' AND remote_shard IS NOT NULL`,
        shopper,
        tid,
        gen,
      )
    }
    return n
  })
}

/**
 * This shard of several has shoppers waiting and no token of its own to give them: it looks to its siblings
 * (lending, and hearing when the whole sale is sold out) every tick.
 */
export function starved(store: RoomStore, config: Config, now: number): boolean {
  if (config.shards <= 1 || now < config.startsAt || config.mode !== 'open') return false
  if (store.room().sale_sold_out === 1 || store.tokenCounts().available > 0) return false
  return store.anyoneWaiting()
}

type Ask = { shard: number; shoppers: string[] }

/** A starved shard borrows (see the top of this file). */
export async function borrow(store: RoomStore, env: RoomEnv, now: number): Promise<void> {
  const config = store.config()
  if (!config || !starved(store, config, now)) return
  const me = store.room().shard
  const others = await siblingFrontiers(env, config, me)
  if (others.length === config.shards - 1 && saleSpent(store, others)) {
    store.exec(`UPDATE room SET sale_sold_out = 1 WHERE id = 1`)
    return
  }
  const asks = planAsks(store, config, others, now)
  if (asks.length === 0) return
  const answers = await Promise.all(
    asks.map(async (a) => {
      try {
        const result = await sibling(env, config.saleId, a.shard).lend(config.saleId, me, a.shoppers)
        return { shard: a.shard, lent: result.ok ? result.value : [] }
      } catch (err) {
        console.warn(`waiting-room ${config.saleId}#${me}: borrowing from shard ${a.shard} failed (${String(err)})`)
        return { shard: a.shard, lent: [] }
      }
    }),
  )
  const unused = admitBorrowed(store, config, answers)
  await Promise.all(
    unused.map(async ({ shard, refs }) => {
      try {
        await sibling(env, config.saleId, shard).unlend(config.saleId, me, refs)
      } catch (err) {
        // The lender's alarm fences and recycles them once their grants lapse.
        const what = `giving lent tokens back to shard ${shard} failed (${String(err)})`
        console.warn(`waiting-room ${config.saleId}#${me}: ${what}`)
      }
    }),
  )
}

async function siblingFrontiers(env: RoomEnv, config: Config, me: number): Promise<RoomFrontier[]> {
  const all = await Promise.all(
    Array.from({ length: config.shards }, async (_, i) => {
      if (i === me) return null
      try {
        const result = await sibling(env, config.saleId, i).frontier(config.saleId)
        return result.ok ? result.value : null
      } catch (err) {
        console.warn(`waiting-room ${config.saleId}#${me}: shard ${i} unreachable (${String(err)})`)
        return null
      }
    }),
  )
  return all.filter((f): f is RoomFrontier => f !== null)
}

/** Every shard's pool is sold. `sold` only grows and sold tokens never move: final, whenever each was read. */
function saleSpent(store: RoomStore, others: RoomFrontier[]): boolean {
  const all = [...others, store.tokenCounts()]
  return all.some((f) => f.loaded > 0) && all.every((f) => f.sold === f.loaded)
}

/** Which shoppers at the front of this line to ask which sibling for, within this shard's own limits. */
function planAsks(store: RoomStore, config: Config, others: RoomFrontier[], now: number): Ask[] {
  const donors = others.map((f) => ({ shard: f.shard, spare: f.available - f.waiting })).filter((d) => d.spare > 0)
  if (donors.length === 0) return []
  // Lent tokens this shard's shoppers hold count against its cap too.
  const lentActive = () =>
    store.count(
      `SELECT COUNT(*) AS c FROM queue WHERE state = 'admitted' AND remote_shard IS NOT NULL AND grant_exp > ?`,
      now,
    )
  const take = Math.min(
    Math.floor(budgetAt(config, store.room(), now)),
    MAX_ADMIT_PER_PASS,
    donors.reduce((n, d) => n + d.spare, 0),
    activeHeadroom(config, store, lentActive),
  )
  if (take <= 0) return []
  const front = store
    .rows<{ shopper: string }>(`SELECT shopper FROM queue WHERE state = 'waiting' ORDER BY ord, seq LIMIT ?`, take)
    .map((r) => r.shopper)
  const asks: Ask[] = []
  for (const d of donors) {
    const shoppers = front.splice(0, d.spare)
    if (shoppers.length) asks.push({ shard: d.shard, shoppers })
  }
  return asks
}

/** Admits the shoppers lent a token who still wait; returns the tokens nobody could use, by lender. */
function admitBorrowed(
  store: RoomStore,
  config: Config,
  answers: Array<{ shard: number; lent: LentToken[] }>,
): Array<{ shard: number; refs: LentRef[] }> {
  const at = store.now()
  return store.tx(() => {
    const back: Array<{ shard: number; refs: LentRef[] }> = []
    let admitted = 0
    let throughOrd: number | null = null
    for (const { shard, lent } of answers) {
      const refs: LentRef[] = []
      for (const t of lent) {
        const row = store.queueRow(t.shopper)
        if (row?.state !== 'waiting') {
          refs.push({ shopper: t.shopper, tid: t.tid, gen: t.gen })
          continue
        }
        const ord = row.ord ?? 1 + row.seq
        recordIssuance(store, {
          shopper: t.shopper,
          publicId: row.public_id,
          tid: t.tid,
          gen: t.gen,
          pre: row.pre,
          ord,
          joinedAt: row.joined_at,
          at,
        })
        store.exec(
          `UPDATE queue SET state = 'admitted', tid = ?, gen = ?, "grant" = NULL, grant_iat = ?, grant_exp = ?,
                  token = ?, remote_shard = ? WHERE seq = ?`,
          t.tid,
          t.gen,
          t.iat,
          t.exp,
          t.token,
          shard,
          row.seq,
        )
        throughOrd = Math.max(throughOrd ?? -1, ord)
        admitted++
      }
      if (refs.length) back.push({ shard, refs })
    }
    if (admitted > 0) recordAdmissions(store, at, budgetAt(config, store.room(), at) - admitted, admitted, throughOrd)
    return back
  })
}
