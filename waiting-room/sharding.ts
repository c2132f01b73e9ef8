/**
 * The shard rule of a sale's waiting room, in one place: which object holds which part of the line and of the
 * token pool. Every caller (edge routes, the room's own calls to its siblings, tests) uses these functions, so
 * a place, a token and the object that serves them can never disagree.
 *
 * Pure (no Workers APIs): Node tests and tools import it too.
 */
import { fnv1a } from '../contracts/index.ts'

/** Object name of shard `shard` of a sale; shard 0 keeps the sale id, so a one-shard sale is one object. */
export function shardName(saleId: string, shard: number): string {
  return shard === 0 ? saleId : `${saleId}~${shard}`
}

/** Every shard index of a sale with `shards` shards: 0 .. shards - 1. */
export function shardIndexes(shards: number): number[] {
  return Array.from({ length: shards }, (_, i) => i)
}

/** The shard holding a token id's unit (stable, so reloads and core's outcomes find it again). */
export function tokenShard(tid: string, shards: number): number {
  return fnv1a(tid) % shards
}

/** `items` split by the shard of each one's token id (`tokenShard`): one list per shard, order kept. */
export function byTokenShard<T>(items: T[], tidOf: (item: T, index: number) => string, shards: number): T[][] {
  const groups: T[][] = shardIndexes(shards).map(() => [])
  for (const [i, item] of items.entries()) groups[tokenShard(tidOf(item, i), shards)]!.push(item)
  return groups
}

/** The shard a shopper's place goes to when places are spread by shopper. */
export function shopperShard(shopper: string, shards: number): number {
  return fnv1a(shopper) % shards
}

/** The shard every place of one client network goes to (a hash of the address, never the address). */
export function networkShard(network: string, shards: number): number {
  return fnv1a(network) % shards
}

export type PlacementInput = {
  shopper: string
  /** Hash of the client address, when the platform gave one. */
  network: string | undefined
  shards: number
  /** The room caps places per client network (`maxPlacesPerIp`). */
  capsNetworks: boolean
}

/**
 * Where a new place in line goes. With a per-network cap, one network's places share a shard so the cap is
 * exact; otherwise places spread by shopper (a carrier NAT or an office must not pile onto one shard).
 */
export function placementShard({ shopper, network, shards, capsNetworks }: PlacementInput): number {
  const byNetwork = network !== undefined && capsNetworks && shards > 1
  return byNetwork ? networkShard(network, shards) : shopperShard(shopper, shards)
}
