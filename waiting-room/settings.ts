/**
 * The operator's settings: configuring the room (the only thing that binds an object to a sale) and steering it
 * live. Time up to a change is settled at the old settings; only time from then on accrues at the new ones.
 */
import type { z } from 'zod'
import {
  DEFAULT_MAX_PLACES_PER_NETWORK,
  newShuffleSeed,
  seedCommitment,
  type RoomConfig,
  type RoomSteer,
} from '../contracts/index.ts'
import { admit, budgetAt, burstCapacity } from './admission.ts'
import { fail, ok, type RoomResult } from './results.ts'
import type { RoomStore } from './store.ts'

/** A parsed `RoomConfig` (defaults applied). */
export type RoomSettings = z.output<typeof RoomConfig>
export type ConfigureInput = Omit<RoomSettings, 'shards' | 'prequeueOrder' | 'joinPolicy'> &
  Partial<Pick<RoomSettings, 'shards' | 'prequeueOrder' | 'joinPolicy'>>
/** Which shard this object is, and (for shards other than 0) the sale's shuffle seed, drawn by shard 0. */
export type ShardAssignment = { shard?: number; seed?: string }

const servesAnother = (current: string | null, saleId: string) => current !== null && current !== saleId

export function wrongSale<T>(current: string, saleId: string): RoomResult<T> {
  return fail('invalid_path', `this room serves sale ${current}, not ${saleId}`, 'saleId')
}

/**
 * Creates or replaces the room's config and binds the object to the sale. Changing the rate live is fine:
 * budget so far accrues at the old rate. The seed is drawn once (by the first configure) and never changes,
 * and its commitment is kept.
 */
export async function configure(
  store: RoomStore,
  config: ConfigureInput,
  assignment: ShardAssignment,
  now: number,
): Promise<RoomResult<RoomSettings & { commitment: string }>> {
  const before = store.room()
  if (servesAnother(before.sale_id, config.saleId)) return wrongSale(before.sale_id!, config.saleId)
  const shards = config.shards ?? 1
  const prequeueOrder = config.prequeueOrder ?? 'shuffle'
  const startsAt = Date.parse(config.startsAt)
  const seed = before.seed ?? assignment.seed ?? newShuffleSeed()
  const commitment = before.commitment ?? (await seedCommitment(seed))
  return store.tx(() => {
    const existing = store.room()
    if (servesAnother(existing.sale_id, config.saleId)) return wrongSale(existing.sale_id!, config.saleId)
    if (existing.shards !== shards && store.tokenCounts().loaded > 0 && existing.starts_at !== null) {
      return fail('invalid_body', 'shards cannot change once tokens are loaded', 'shards')
    }
    store.exec(
      `UPDATE room SET sale_id = ?, shard = ?, shards = ?, max_active = ?, max_places_per_ip = ?, prequeue_order = ?,
              seed = ?, commitment = ?, join_policy = ?, configured_at = COALESCE(configured_at, ?) WHERE id = 1`,
      config.saleId,
      assignment.shard ?? existing.shard ?? 0,
      shards,
      config.maxActive ?? null,
      placeCap(config.maxPlacesPerIp),
      prequeueOrder,
      existing.seed ?? seed,
      existing.commitment ?? commitment,
      config.joinPolicy ?? 'anonymous',
      now,
    )
    // Settle the time so far at the old rate; only time from now on accrues at the new one.
    admit(store, now)
    // A room that was not open yet (or is new) accrues from the new startsAt; a sale moved to the future
    // starts from an empty budget.
    const previous = store.config()
    const open = now >= startsAt && previous !== null && now >= previous.startsAt
    const carried = open ? budgetAt(previous, store.room(), now) : 0
    store.exec(
      `UPDATE room SET starts_at = ?, starts_at_iso = ?, admit_per_minute = ?, token_ttl_seconds = ?,
              last_tick = ?, budget = ? WHERE id = 1`,
      startsAt,
      config.startsAt,
      config.admitPerMinute,
      config.tokenTtlSeconds,
      open ? now : null,
      open ? Math.min(carried, burstCapacity(config.admitPerMinute / shards)) : 0,
    )
    const joinPolicy = config.joinPolicy ?? 'anonymous'
    return ok({ ...config, shards, prequeueOrder, joinPolicy, commitment: existing.commitment ?? commitment })
  })
}

/**
 * Live steering: rate, cap on active shoppers, pause / resume / queue-all. Paused time accrues no admission
 * budget.
 */
export function steer(store: RoomStore, change: RoomSteer, now: number): void {
  store.tx(() => {
    admit(store, now)
    const config = store.config()!
    const room = store.room()
    const open = now >= config.startsAt
    const budget = open ? budgetAt(config, room, now) : room.budget
    const rate = change.admitPerMinute ?? config.admitPerMinute
    store.exec(
      `UPDATE room SET admit_per_minute = ?, max_active = ?, mode = ?, last_tick = ?, budget = ? WHERE id = 1`,
      rate,
      change.maxActive === undefined ? config.maxActive : change.maxActive,
      change.mode ?? config.mode,
      open ? now : room.last_tick,
      Math.min(budget, burstCapacity(rate / config.shards)),
    )
    admit(store, now)
  })
}

/** The stored cap on places per network: the default when unset, null (none) for 0. */
function placeCap(requested: number | undefined): number | null {
  const cap = requested ?? DEFAULT_MAX_PLACES_PER_NETWORK
  return cap > 0 ? cap : null
}
