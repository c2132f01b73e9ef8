/**
 * `GET /api/availability?skus=A,B`: live stock, apart from the cached pages (which carry none).
 * - a SKU with a scheduled or live drop: from this instance's cached frontier of the sale's waiting room
 *   (refreshed at most about once a second per instance, shared with the room's polls: no room call per poll,
 *   no core call);
 * - any other SKU: core's Redis copy of its stock, cached about a second at the edge (one core call per set
 *   of SKUs per second per instance); `unknown` when core cannot be asked and the last answer is too old.
 */
import type { AvailabilityItem, AvailabilityResponse, DropSummary } from '../../contracts/index.ts'
import { totals, type RoomFrontier } from '../../waiting-room/frontier.ts'
import type { Env } from '../env.ts'
import { frontiers } from '../rooms.ts'
import type { EdgeCatalog } from './catalog-data.ts'
import type { Waiter } from './page-cache.ts'

/** A drop SKU's availability from its room's frontier (null: the room could not be read). */
export function dropAvailability(drop: DropSummary, shards: RoomFrontier[] | null, now: number): AvailabilityItem {
  const startsAt = shards?.[0]?.startsAt ?? Date.parse(drop.startsAt)
  const base = { sku: drop.sku, saleId: drop.saleId, startsAt: new Date(startsAt).toISOString() }
  if (!shards) return { ...base, state: now < startsAt ? 'drop_scheduled' : 'unknown', available: null }
  const sum = totals(shards)
  if (sum.loaded > 0 && sum.sold >= sum.loaded) return { ...base, state: 'sold_out', available: 0 }
  const left = sum.loaded > 0 ? sum.unitsLeft : drop.stock
  return { ...base, state: now < startsAt ? 'drop_scheduled' : 'drop_live', available: left }
}

export async function availability(
  env: Env,
  catalog: EdgeCatalog,
  skus: string[],
  ctx?: Waiter,
  now = Date.now(),
): Promise<AvailabilityResponse> {
  const drops = new Map<string, DropSummary>()
  // The earliest drop of a SKU is the one a shopper can still join.
  for (const drop of await catalog.drops(ctx)) if (!drops.has(drop.sku)) drops.set(drop.sku, drop)
  const dropSkus = skus.filter((s) => drops.has(s))
  const fromDrops = await Promise.all(
    dropSkus.map(async (sku) => {
      const drop = drops.get(sku)!
      const shards = await frontiers(env, drop.saleId, now).catch(() => null)
      return dropAvailability(drop, shards, now)
    }),
  )
  const everyday = await catalog.everydayStock(
    skus.filter((s) => !drops.has(s)),
    ctx,
  )
  const bySku = new Map([...fromDrops, ...everyday].map((i) => [i.sku, i]))
  return { items: skus.map((sku) => bySku.get(sku)!), at: now }
}
