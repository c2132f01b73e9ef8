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
  const plan = planBorrow(store, config, others, now)
  if (!plan) return
  // Donors are asked one after the other, each for the front of what is still unserved: a lender lends to a
  // prefix of the shoppers it is given, so the shoppers served are always the front of this line (asking all
  // donors at once, a donor whose spare shrank meanwhile would leave a gap and a later shopper admitted first).
  const answers: Array<{ shard: number; lent: LentToken[] }> = []
  let unserved = plan.front
  for (const donor of plan.donors) {
    if (unserved.length === 0) break
    let lent: LentToken[] = []
    try {
      const result = await sibling(env, config.saleId, donor.shard).lend(
        config.saleId,
        me,
        unserved.slice(0, donor.spare),
      )
      lent = result.ok ? result.value : []
    } catch (err) {
      console.warn(`waiting-room ${config.saleId}#${me}: borrowing from shard ${donor.shard} failed (${String(err)})`)
    }
    answers.push({ shard: donor.shard, lent })
    const served = new Set(lent.map((t) => t.shopper))
    unserved = unserved.filter((shopper) => !served.has(shopper))
  }
  const unused = admitBorrowed(store, config, plan.front, answers)
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

/** The shoppers at the front of this line to borrow for (within this shard's own limits), and who can lend. */
function planBorrow(
  store: RoomStore,
  config: Config,
  others: RoomFrontier[],
  now: number,
): { front: string[]; donors: Array<{ shard: number; spare: number }> } | null {
  const donors = others
    .map((f) => ({ shard: f.shard, spare: f.available - f.waiting }))
    .filter((d) => d.spare > 0)
    .sort((a, b) => b.spare - a.spare)
  if (donors.length === 0) return null
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
  if (take <= 0) return null
  const front = store
    .rows<{ shopper: string }>(`SELECT shopper FROM queue WHERE state = 'waiting' ORDER BY ord, seq LIMIT ?`, take)
    .map((r) => r.shopper)
  return front.length ? { front, donors } : null
}

/**
 * Admits, in line order, the shoppers lent a token who still wait, and stops at the first one still waiting
 * without a token: nobody behind them goes first. Returns the tokens nobody used, by lender.
 */
function admitBorrowed(
  store: RoomStore,
  config: Config,
  front: string[],
  answers: Array<{ shard: number; lent: LentToken[] }>,
): Array<{ shard: number; refs: LentRef[] }> {
  const at = store.now()
  const lentTo = new Map<string, { shard: number; token: LentToken }>()
  for (const { shard, lent } of answers) for (const t of lent) lentTo.set(t.shopper, { shard, token: t })
  return store.tx(() => {
    const back = new Map<number, LentRef[]>()
    const giveBack = (shard: number, t: LentToken) =>
      back.set(shard, [...(back.get(shard) ?? []), { shopper: t.shopper, tid: t.tid, gen: t.gen }])
    let admitted = 0
    let throughOrd: number | null = null
    let gap = false
    for (const shopper of front) {
      const lent = lentTo.get(shopper)
      lentTo.delete(shopper)
      const row = store.queueRow(shopper)
      const waiting = row?.state === 'waiting'
      if (!lent) {
        if (waiting) gap = true
        continue
      }
      if (!waiting || gap) {
        giveBack(lent.shard, lent.token)
        continue
      }
      const t = lent.token
      const ord = row.ord ?? 1 + row.seq
      recordIssuance(store, {
        shopper,
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
        lent.shard,
        row.seq,
      )
      throughOrd = Math.max(throughOrd ?? -1, ord)
      admitted++
    }
    // Tokens lent to shoppers this shard did not ask for (a lost earlier answer asked again): back too.
    for (const { shard, token } of lentTo.values()) giveBack(shard, token)
    if (admitted > 0) recordAdmissions(store, at, budgetAt(config, store.room(), at) - admitted, admitted, throughOrd)
    return [...back].map(([shard, refs]) => ({ shard, refs }))
  })
}
