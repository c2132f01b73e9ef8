/**
 * What the room shows of itself: the frontier snapshot the edge caches to answer polls, the operator's stats,
 * and the fairness report's raw material.
 */
import type { IssuanceEntry, RoomReport, RoomStats } from '../contracts/index.ts'
import type { RoomFrontier } from './frontier.ts'
import type { Config, RoomRow, RoomStore } from './store.ts'

/** The shuffle seed, once the sale has started; null before (its commitment is public from the start). */
export function revealedSeed(room: RoomRow, config: Config, now: number): string | null {
  return now >= config.startsAt ? room.seed : null
}

/** What a shard says about its sale in both the operator's report and the public proof. */
export function saleHeader(store: RoomStore, config: Config, now: number) {
  const room = store.room()
  return {
    saleId: config.saleId,
    shards: config.shards,
    startsAt: new Date(config.startsAt).toISOString(),
    prequeueOrder: config.prequeueOrder,
    commitment: room.commitment,
    seed: revealedSeed(room, config, now),
    tokens: store.tokenCounts().loaded,
    joined: store.count(`SELECT COALESCE(MAX(seq), 0) AS c FROM queue`),
  }
}

/** The snapshot the edge caches to answer polls (see `RoomFrontier`). */
export function frontier(store: RoomStore, config: Config, now: number): RoomFrontier {
  const room = store.room()
  const counts = store.tokenCounts()
  const waiting = store.rows<{ pre: number; c: number }>(
    `SELECT pre, COUNT(*) AS c FROM queue WHERE state = 'waiting' GROUP BY pre`,
  )
  return {
    saleId: config.saleId,
    shard: room.shard,
    shards: config.shards,
    at: now,
    startsAt: config.startsAt,
    mode: config.mode,
    admitPerMinute: config.admitPerMinute,
    prequeueOrder: config.prequeueOrder,
    seed: revealedSeed(room, config, now),
    throughOrd: room.through_ord ?? -1,
    waiting: waiting.reduce((n, r) => n + r.c, 0),
    prequeueWaiting: waiting.find((r) => r.pre === 1)?.c ?? 0,
    prequeueJoined: store.count(`SELECT COUNT(*) AS c FROM queue WHERE pre = 1`),
    loaded: counts.loaded,
    available: counts.available,
    granted: counts.granted,
    redeemed: counts.redeemed,
    sold: counts.sold,
    maxPlacesPerIp: room.max_places_per_ip,
    joinPolicy: room.join_policy,
    prequeueOpenedAt: room.configured_at,
  }
}

export function stats(store: RoomStore, config: Config, now: number): RoomStats {
  const counts = store.tokenCounts()
  const room = store.room()
  return {
    saleId: config.saleId,
    configured: true,
    tokensLoaded: counts.loaded,
    available: counts.available,
    granted: counts.granted,
    redeemed: counts.redeemed,
    sold: counts.sold,
    queued: store.waitingCount(),
    admitted: room.admitted_total,
    recycled: room.recycled_total,
    shards: room.shards,
    mode: room.mode,
    admitPerMinute: room.admit_per_minute,
    maxActive: room.max_active,
    commitment: room.commitment,
    seed: revealedSeed(room, config, now),
  }
}

type IssuanceRow = {
  shopper: string
  public_id: string
  tid: string
  gen: number
  pre: number
  ord: number
  joined_at: number
  admitted_at: number
}

/** This shard's part of the fairness report: commitment, seed once revealed, pre-queue join list, issuance log. */
export function report(store: RoomStore, config: Config, now: number): RoomReport {
  const room = store.room()
  const issuance = store
    .rows<IssuanceRow>(
      `SELECT shopper, public_id, tid, gen, pre, ord, joined_at, admitted_at FROM issuance ORDER BY id`,
    )
    .map(
      (r): IssuanceEntry => ({
        shard: room.shard,
        shopper: r.shopper,
        publicId: r.public_id,
        tid: r.tid,
        gen: r.gen,
        pre: r.pre === 1,
        ord: r.ord,
        joinedAt: r.joined_at,
        admittedAt: r.admitted_at,
      }),
    )
  // Every pre-queue place ever taken, also of shoppers who joined again at the back since.
  const prequeue = store.rows<{ seq: number; shopper: string; public_id: string; joined_at: number }>(
    `SELECT seq, shopper, public_id, joined_at FROM prequeue_joins ORDER BY seq`,
  )
  return {
    ...saleHeader(store, config, now),
    admitted: room.admitted_total,
    prequeue: [
      {
        shard: room.shard,
        shoppers: prequeue.map((r) => r.shopper),
        joins: prequeue.map((r) => ({ shard: room.shard, publicId: r.public_id, seq: r.seq, joinedAt: r.joined_at })),
      },
    ],
    issuance,
  }
}
