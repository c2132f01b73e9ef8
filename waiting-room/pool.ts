/**
 * The token pool: loading the sale's pre-generated purchase tokens, core's word on redeemed ones, and tokens
 * coming back to the pool for the next shopper in line.
 */
import { peekPurchaseToken, type LoadTokensResponse, type TokenOutcome } from '../contracts/index.ts'
import { admit } from './admission.ts'
import { fail, ok, type RoomResult } from './results.ts'
import type { RoomStore, TokenState } from './store.ts'

/**
 * Adds purchase tokens. Each is read with `peekPurchaseToken` (the edge cannot verify signatures; core does).
 * All-or-nothing: one token that does not parse or names another sale rejects the whole batch.
 */
export function loadTokens(store: RoomStore, saleId: string, tokens: string[], now: number) {
  const parsed: { tid: string; token: string }[] = []
  for (const [i, token] of tokens.entries()) {
    const payload = peekPurchaseToken(token)
    if (!payload) return fail<LoadTokensResponse>('invalid_body', `tokens.${i}: not a purchase token`, `tokens.${i}`)
    if (payload.sale !== saleId) {
      const message = `tokens.${i}: token is for sale ${payload.sale}, not ${saleId}`
      return fail<LoadTokensResponse>('invalid_body', message, `tokens.${i}`)
    }
    parsed.push({ tid: payload.tid, token })
  }
  return store.tx((): RoomResult<LoadTokensResponse> => {
    let next = store.one<{ n: number }>(`SELECT COALESCE(MAX(n), 0) AS n FROM tokens`).n
    let loaded = 0
    let duplicates = 0
    for (const { tid, token } of parsed) {
      if (store.rows(`SELECT 1 FROM tokens WHERE tid = ?`, tid).length > 0) {
        duplicates++
        continue
      }
      store.exec(`INSERT INTO tokens (tid, n, token) VALUES (?, ?, ?)`, tid, ++next, token)
      loaded++
    }
    store.tokensChanged()
    admit(store, now)
    return ok({ saleId, loaded, duplicates, total: store.tokenCounts().loaded })
  })
}

/**
 * Core's word on redeemed tokens. `sold` is final; `returned` puts the token back in the pool for the next
 * shopper in line. Only an outcome for the token's current generation applies; anything else is ignored,
 * so repeating a batch is safe. Returns how many applied.
 */
export function applyOutcomes(store: RoomStore, outcomes: TokenOutcome[], now: number): number {
  return store.tx(() => {
    let applied = 0
    for (const { tid, gen, outcome } of outcomes) {
      const token = store.rows<{ state: TokenState; holder: string | null }>(
        `SELECT state, holder FROM tokens WHERE tid = ? AND gen = ? AND state IN ('granted', 'redeemed')`,
        tid,
        gen,
      )[0]
      if (!token) continue
      if (outcome === 'sold') store.exec(`UPDATE tokens SET state = 'sold', grant_exp = NULL WHERE tid = ?`, tid)
      else release(store, tid, gen, token.holder)
      applied++
    }
    if (applied > 0) {
      store.tokensChanged()
      admit(store, now)
    }
    return applied
  })
}

/**
 * Token back to the pool (same gen; the next admission bumps it) and its holder's place is spent. A token lent
 * to another shard's shopper is noted in `store.releasedLent`, so that shard hears of it after the commit.
 */
export function release(store: RoomStore, tid: string, gen: number, holder: string | null): void {
  const lentTo =
    store.rows<{ s: number | null }>(`SELECT holder_shard AS s FROM tokens WHERE tid = ?`, tid)[0]?.s ?? null
  if (lentTo !== null && holder !== null) store.releasedLent.push({ shard: lentTo, ref: { shopper: holder, tid, gen } })
  store.exec(
    `UPDATE tokens SET state = 'available', holder = NULL, holder_shard = NULL, grant_exp = NULL WHERE tid = ?`,
    tid,
  )
  if (holder !== null) {
    store.exec(
      `UPDATE queue SET state = 'expired' WHERE shopper = ? AND tid = ? AND gen = ? AND state = 'admitted'`,
      holder,
      tid,
      gen,
    )
  }
  store.exec(`UPDATE room SET recycled_total = recycled_total + 1 WHERE id = 1`)
}

/** Every loaded token is sold: nothing available, granted or redeemed can come back to anyone. */
export function soldOut(store: RoomStore): boolean {
  const counts = store.tokenCounts()
  const here = counts.available + counts.granted + counts.redeemed === 0
  // One of several shards: its own pool being spent says nothing; other shards lend what they do not need.
  if (store.room().shards > 1) return here && store.room().sale_sold_out === 1
  return counts.loaded > 0 && here
}
