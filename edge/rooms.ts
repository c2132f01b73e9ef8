import { FRONTIER_TTL_MS, type RoomFrontier } from '../waiting-room/frontier.ts'
import type { RoomResult } from '../waiting-room/results.ts'
import { shardIndexes, shardName } from '../waiting-room/sharding.ts'
import type { Env } from './env.ts'
import { apiError } from './http-error.ts'

/** Shard `shard` of a sale's waiting room (shard 0 is named after the sale: a one-shard sale is one object). */
export function shardOf(env: Env, saleId: string, shard: number) {
  return env.WAITING_ROOM.get(env.WAITING_ROOM.idFromName(shardName(saleId, shard)))
}

export type RoomStub = ReturnType<typeof shardOf>

/** The sale's first (or only) WaitingRoom shard. */
export function roomOf(env: Env, saleId: string) {
  return shardOf(env, saleId, 0)
}

/** A room's RPC result, or the HTTP error it stands for. */
export function unwrap<T>(result: RoomResult<T>): T {
  if (result.ok) return result.value
  throw apiError(result.error.code, result.error.message, result.error.field)
}

/**
 * The one way the edge calls several shards of a sale: `call` on each of `shards` (indexes) at once, every answer
 * unwrapped (the first failure becomes the HTTP error), in the order of `shards`.
 */
export function fanOut<T>(
  env: Env,
  saleId: string,
  shards: number[],
  call: (room: RoomStub, shard: number) => Promise<RoomResult<T>>,
): Promise<T[]> {
  return Promise.all(shards.map(async (shard) => unwrap(await call(shardOf(env, saleId, shard), shard))))
}

/** `fanOut` to every shard but 0, given shard 0's answer (which says how many there are). */
export async function withOtherShards<T>(
  env: Env,
  saleId: string,
  first: T & { shards?: number },
  call: (room: RoomStub, shard: number) => Promise<RoomResult<T>>,
): Promise<T[]> {
  return [first, ...(await fanOut(env, saleId, shardIndexes(first.shards ?? 1).slice(1), call))]
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
    return withOtherShards(env, saleId, first, (room) => room.frontier(saleId))
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
