import type pg from 'pg'
import type { Sale, TokenOutcome, TokenRef } from '../../contracts/index.ts'
import type { SaleRebuild, Scripts } from '../redis/scripts.ts'

export interface RestoreResult {
  saleId: string
  sold: number
  held: number
  available: number
  /** Tokens whose unit went back to stock: the waiting room must hand them to the next shopper. */
  returned: TokenRef[]
  /**
   * Every settled token's outcome, announced again: outcome jobs still queued in the Redis that was lost are
   * gone, and a room that never hears "returned" keeps a unit from the next shopper. The room applies each
   * (tid, gen, outcome) once, so repeats are harmless.
   */
  outcomes: TokenOutcome[]
  /** Holds restored and then settled at once because their order settled during the rebuild. */
  settledAfter: number
}

interface OrderRow {
  id: string
  token_id: string
  token_gen: number
  shopper: string
  status: 'PENDING' | 'CONFIRMED' | 'FAILED'
  created_at: Date
  committed: boolean
}

/**
 * After Redis lost a sale's keys: rebuild its counters from Postgres, the source of truth.
 *
 * What is safe, and what this does:
 * - sold = confirmed orders (Postgres counts them under a CHECK; nothing else can be sold).
 * - A PENDING order whose saga already committed its hold keeps its unit (committed holds cannot expire;
 *   the saga finishes it). A PENDING order not yet committed keeps its unit only if its hold would still be
 *   live by time (redeemed_at + hold TTL), and only while the units add up; otherwise its token is marked
 *   released and returned to the room, and its saga fails at commit-hold (authorization voided).
 * - A hold that Redis had but Postgres never saw (redeemed, saga not started yet) cannot be known: that unit
 *   is available again. Its checkout job was lost with Redis too, so no payment was ever attempted for it.
 * - Tokens of failed orders are marked released; tokens never seen by Postgres are absent, which is what a
 *   fresh token looks like. Grant fences (void) are lost: a late redeem is still refused by the grant's
 *   own expiry, checked in the same script.
 * The Lua script only writes when the sale's meta is missing, so a live sale is never overwritten. After
 * writing, the restored holds are checked against Postgres again: one that confirmed or failed while the
 * rebuild ran is finalized or released at once.
 */
export async function restoreSaleCounters(
  db: pg.Pool,
  scripts: Scripts,
  sale: Sale,
  nowMs = Date.now(),
): Promise<RestoreResult | null> {
  if (await scripts.saleExists(sale.saleId)) return null
  const { rows } = await db.query<OrderRow>(
    `SELECT o.id, o.token_id, o.token_gen, o.shopper, o.status, o.created_at,
            coalesce(s.completed_steps @> '[{"step": "commit-hold-step"}]'::jsonb, false) AS committed
     FROM orders o LEFT JOIN sagas s ON s.id = o.id
     WHERE o.sale_id = $1 ORDER BY o.token_id, o.token_gen`,
    [sale.saleId],
  )
  const holdTtlMs = sale.holdTtlSeconds * 1000
  const latest = new Map<string, OrderRow>()
  for (const row of rows) latest.set(row.token_id, row) // ordered by gen: the last one wins
  const sold = rows.filter((r) => r.status === 'CONFIRMED').length
  const pending = rows.filter((r) => r.status === 'PENDING')
  // Committed first (their units are certainly taken), then the newest live holds, while units remain.
  pending.sort((a, b) => Number(b.committed) - Number(a.committed) || b.created_at.getTime() - a.created_at.getTime())
  const holds: SaleRebuild['holds'] = []
  const released: OrderRow[] = []
  for (const row of pending) {
    const expiresAt = row.created_at.getTime() + holdTtlMs
    const fits = sold + holds.length < sale.stock
    if (fits && row.committed) holds.push([row.id, row.token_id, row.token_gen, row.shopper, 0])
    else if (fits && expiresAt > nowMs) holds.push([row.id, row.token_id, row.token_gen, row.shopper, expiresAt])
    else released.push(row)
  }
  const heldIds = new Set(holds.map((h) => h[0]))
  const tokens: SaleRebuild['tokens'] = []
  for (const row of latest.values()) {
    const status =
      row.status === 'CONFIRMED'
        ? 'sold'
        : row.status === 'PENDING' && heldIds.has(row.id)
          ? row.committed
            ? 'committed'
            : 'held'
          : 'released'
    tokens.push([row.token_id, `${row.token_gen}|${status}|${row.id}|${row.shopper}`])
  }
  // A token sold at an older generation stays sold even if a newer order of it failed.
  for (const row of rows) {
    if (row.status === 'CONFIRMED' && latest.get(row.token_id)?.id !== row.id) {
      const i = tokens.findIndex((t) => t[0] === row.token_id)
      tokens[i] = [row.token_id, `${row.token_gen}|sold|${row.id}|${row.shopper}`]
    }
  }
  const result = await scripts.rebuildSale(sale.saleId, sale, { sold, tokens, holds })
  if (!result) return null

  // Orders that settled between the read above and the script: finish their holds now.
  let settledAfter = 0
  const returned: TokenRef[] = released
    .filter((r) => latest.get(r.token_id)?.id === r.id)
    .map((r) => ({ tid: r.token_id, gen: r.token_gen }))
  if (holds.length) {
    const now = await db.query<{ id: string; status: string }>('SELECT id, status FROM orders WHERE id = ANY($1)', [
      holds.map((h) => h[0]),
    ])
    for (const row of now.rows) {
      if (row.status === 'CONFIRMED' && (await scripts.finalizeHold(sale.saleId, row.id))) settledAfter++
      if (row.status === 'FAILED') {
        const back = await scripts.releaseHold(sale.saleId, row.id)
        if (back) {
          returned.push(back)
          settledAfter++
        }
      }
    }
  }
  const outcomes: TokenOutcome[] = returned.map((t) => ({ ...t, outcome: 'returned' as const }))
  for (const row of latest.values()) {
    if (row.status === 'FAILED') outcomes.push({ tid: row.token_id, gen: row.token_gen, outcome: 'returned' })
  }
  for (const row of rows)
    if (row.status === 'CONFIRMED') outcomes.push({ tid: row.token_id, gen: row.token_gen, outcome: 'sold' })
  return {
    saleId: sale.saleId,
    sold,
    held: holds.length,
    available: result.available,
    returned,
    outcomes,
    settledAfter,
  }
}
