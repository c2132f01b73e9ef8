/**
 * Grants that lapse: the room asks core to fence them (`POST /internal/sales/:saleId/grants/expire`) before
 * their tokens go back to the pool, so a token is never in two shoppers' hands at once.
 */
import {
  ExpireGrantsResponse,
  GRANT_FENCE_DELAY_MS,
  type ExpireGrantsRequest,
  type TokenRef,
} from '../contracts/index.ts'
import { release } from './pool.ts'
import type { RoomEnv } from './room-env.ts'
import type { RoomStore } from './store.ts'

/**
 * A grant is only sent to core for expiry this long after `exp`: a redeem the edge received before `exp` may
 * reach core up to the receipt window later and must find the grant unfenced (contracts/edge-receipt.ts).
 */
export const GRANT_GRACE_MS = GRANT_FENCE_DELAY_MS
/** Largest `ExpireGrantsRequest` batch. */
export const EXPIRE_BATCH = 1_000
const CORE_TIMEOUT_MS = 10_000

/** Core's answer for the grants asked about, or null (unreachable, an error, a body it should not send). */
async function askCore(env: RoomEnv, saleId: string, body: ExpireGrantsRequest) {
  try {
    const res = await fetch(`${env.CORE_URL}/internal/sales/${saleId}/grants/expire`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.CORE_INTERNAL_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(CORE_TIMEOUT_MS),
    })
    if (!res.ok) {
      console.warn(`waiting-room ${saleId}: core answered ${res.status} to grants/expire; retrying next tick`)
      return null
    }
    const parsed = ExpireGrantsResponse.safeParse(await res.json())
    if (parsed.success) return parsed.data.results
    console.warn(`waiting-room ${saleId}: unexpected grants/expire response; retrying next tick`)
  } catch (err) {
    console.warn(`waiting-room ${saleId}: core unreachable for grants/expire (${String(err)}); retrying next tick`)
  }
  return null
}

/**
 * Asks core about grants past `exp + GRANT_GRACE_MS`. Core fences each (tid, gen) so a late redeem fails, and
 * answers `voided` (token back to the pool) or `redeemed` (await core's outcome). If core cannot be reached
 * the tokens stay granted and the next alarm asks again.
 */
export async function expireGrants(store: RoomStore, env: RoomEnv, now: number): Promise<void> {
  const config = store.config()
  if (!config) return
  const due = store.rows<{ tid: string; gen: number }>(
    `SELECT tid, gen FROM tokens WHERE state = 'granted' AND grant_exp <= ? ORDER BY grant_exp LIMIT ?`,
    now - GRANT_GRACE_MS,
    EXPIRE_BATCH,
  )
  if (due.length === 0) return
  const results = await askCore(env, config.saleId, { grants: due satisfies TokenRef[] })
  if (!results) return
  const asked = new Set(due.map((g) => `${g.tid}:${g.gen}`))
  store.tx(() => {
    for (const result of results) {
      if (!asked.has(`${result.tid}:${result.gen}`)) continue
      // Still the same grant? (An outcome may have landed while we were waiting on core.)
      const token = store.rows<{ holder: string | null }>(
        `SELECT holder FROM tokens WHERE tid = ? AND gen = ? AND state = 'granted'`,
        result.tid,
        result.gen,
      )[0]
      if (!token) continue
      if (result.state === 'voided') release(store, result.tid, result.gen, token.holder)
      else store.exec(`UPDATE tokens SET state = 'redeemed', grant_exp = NULL WHERE tid = ?`, result.tid)
    }
    store.tokensChanged()
  })
}
