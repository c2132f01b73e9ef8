import { fnv1a } from '../contracts/index.ts'
import { FRONTIER_TTL_MS } from '../waiting-room/frontier.ts'
import { shardName, type RoomFrontier, type RoomResult } from '../waiting-room/waiting-room.ts'
import type { Env } from './env.ts'
import { apiError } from './http-error.ts'

/** Shard `shard` of a sale's waiting room (shard 0 is named after the sale: a one-shard sale is one object). */
export function shardOf(env: Env, saleId: string, shard: number) {
  return env.WAITING_ROOM.get(env.WAITING_ROOM.idFromName(shardName(saleId, shard)))
}

/** The sale's first (or only) WaitingRoom shard. */
export function roomOf(env: Env, saleId: string) {
  return shardOf(env, saleId, 0)
}

/** A room's RPC result, or the HTTP error it stands for. */
export function unwrap<T>(result: RoomResult<T>): T {
  if (result.ok) return result.value
  throw apiError(result.error.code, result.error.message, result.error.field)
}

/** The shard holding a token id's unit (stable, so reloads and outcomes find it again). */
export function tokenShard(tid: string, shards: number): number {
  return fnv1a(tid) % shards
}

type Cached = { at: number; frontiers: Promise<RoomFrontier[]> }
/** Per edge instance (isolate): the shards' frontier snapshots of each sale, reused for FRONTIER_TTL_MS. */
const FRONTIERS = new Map<string, Cached>()
const MAX_CACHED_SALES = 1_000

/**
 * Every shard's frontier snapshot for `saleId`, from this instance's cache when younger than
 * FRONTIER_TTL_MS. Concurrent callers share one refresh, so an edge instance asks each shard at most about
 * once a second however many shoppers poll it.
 */
export function frontiers(env: Env, saleId: string, now = Date.now()): Promise<RoomFrontier[]> {
  const hit = FRONTIERS.get(saleId)
  if (hit && now - hit.at < FRONTIER_TTL_MS) return hit.frontiers
  const promise = (async () => {
    const first = unwrap(await roomOf(env, saleId).frontier(saleId))
    const rest = await Promise.all(
      Array.from({ length: first.shards - 1 }, async (_, i) => unwrap(await shardOf(env, saleId, i + 1).frontier(saleId))),
    )
    return [first, ...rest]
  })()
  if (FRONTIERS.size >= MAX_CACHED_SALES) FRONTIERS.clear()
  FRONTIERS.set(saleId, { at: now, frontiers: promise })
  promise.catch(() => {
    if (FRONTIERS.get(saleId)?.frontiers === promise) FRONTIERS.delete(saleId)
  })
  return promise
}

/** This instance's snapshot if it has one (however old, refreshing it in the background), else null. Never waits. */
export function cachedFrontiers(env: Env, saleId: string, now = Date.now()): Promise<RoomFrontier[] | null> {
  const hit = FRONTIERS.get(saleId)
  if (!hit) return Promise.resolve(null)
  if (now - hit.at >= FRONTIER_TTL_MS) frontiers(env, saleId, now).catch(() => undefined)
  return hit.frontiers.catch(() => null)
}

/** When this instance's snapshot of a sale goes stale (a held poll sleeps until then); `now` when there is none. */
export function frontiersStaleAt(saleId: string, now = Date.now()): number {
  const hit = FRONTIERS.get(saleId)
  return hit ? hit.at + FRONTIER_TTL_MS : now
}

/** Forget this instance's snapshot of a sale (after an operator change made here). */
export function forgetFrontiers(saleId: string): void {
  FRONTIERS.delete(saleId)
}
