/**
 * What a waiting shopper is told: place in line, ETA, units left, when to ask again. One function for both
 * answerers — the edge from a queue ticket and its cached frontier snapshots (frontier.ts `answerPoll`) and the
 * room from its own rows (status.ts) — so a shopper's answer does not depend on who gave it. Each answerer only
 * counts who is ahead in its own way (the room exactly, the edge by estimate from the frontier).
 *
 * Pure and synchronous (no Workers APIs): the edge, the room and the waiting-room benchmark run the same code.
 */
import type { RoomMode, RoomState, RoomStatus } from '../contracts/index.ts'

/**
 * Fastest suggested poll interval while waiting. 1,000 ms rather than 500: a place moves by at most
 * admitPerMinute / 60 a second, and held polls (`?waitMs=`) hear news within about a second anyway.
 */
export const MIN_REFRESH_MS = 1_000
export const MAX_REFRESH_MS = 10_000
/**
 * While no unit is free, a waiting shopper can only move when one comes back (a failed payment or a lapsed
 * grant): the front of the line polls every NO_UNIT_FREE_REFRESH_MS, plus that much again per
 * NO_UNIT_FREE_SLOWDOWN_PER shoppers ahead (capped at MAX_REFRESH_MS). 4,000 ms, the larger of the two values
 * the edge and the room used to give (2,000 / 4,000): on the local stack one workerd isolate serves every
 * join, poll and redeem, and each poll it answers while nothing can move is time taken from checkouts (the
 * demo's 5,000 shoppers mostly wait with every unit held). A plain poll therefore hears of a returned unit up
 * to that late; a held poll within about a second (the edge re-reads its snapshot while it holds).
 */
export const NO_UNIT_FREE_REFRESH_MS = 4_000
export const NO_UNIT_FREE_SLOWDOWN_PER = 250
/** While the operator holds admission nothing moves until they resume it. */
export const PAUSED_REFRESH_MS = 5_000

export type PlaceView = {
  saleId: string
  now: number
  startsAt: number
  admitPerMinute: number
  shards: number
  mode: RoomMode
  /**
   * Shoppers ahead in the shopper's own shard. Null while the order is secret: a shuffled pre-queue place
   * before the draw (or before the edge's snapshot carries the revealed seed).
   */
  aheadHere: number | null
  unitsLeft: number
  /** Some token is free to be handed out, as far as the answerer knows (the edge: in any shard). */
  unitFree: boolean
  /** The shopper's public id in the sale (contracts/fairness.ts). */
  publicId?: string
}

const clamp = (ms: number, floor: number) => Math.round(Math.min(MAX_REFRESH_MS, Math.max(floor, ms)))

/**
 * The answer to a shopper who is in line (not_started or waiting). Shards admit at the same rate each, so
 * `aheadHere` shoppers in one shard stand for `aheadHere * shards` in the whole sale.
 */
export function position(v: PlaceView): RoomStatus {
  const started = v.now >= v.startsAt
  const untilStart = Math.max(0, v.startsAt - v.now)
  const ahead = v.aheadHere === null ? null : v.aheadHere * v.shards
  const waitMs = untilStart + ((ahead ?? 0) * 60_000) / v.admitPerMinute
  // While the operator holds admission an ETA would be a promise nobody keeps: say so instead.
  const held = started && v.mode !== 'open'
  let refreshMs: number
  if (!started) refreshMs = clamp(untilStart / 2, MIN_REFRESH_MS)
  else if (held) refreshMs = PAUSED_REFRESH_MS
  else if (ahead === null) refreshMs = MIN_REFRESH_MS
  else {
    // With no unit free, shoppers move only as units come back, one at a time from the front: the further
    // back, the slower it is worth asking.
    const floor = v.unitFree ? MIN_REFRESH_MS : NO_UNIT_FREE_REFRESH_MS * (1 + ahead / NO_UNIT_FREE_SLOWDOWN_PER)
    refreshMs = clamp(waitMs / 2, floor)
  }
  return {
    ...settled(v.saleId, started ? 'waiting' : 'not_started', v.unitsLeft, v.publicId),
    position: ahead === null ? null : ahead + 1,
    ahead,
    refreshMs,
    etaSeconds: held ? null : Math.ceil(waitMs / 1000),
    ...(held ? { admission: v.mode as 'paused' | 'queue_all' } : {}),
  }
}

/** The answer with no place, no token and nothing to poll for: the base of every status (sold out, expired). */
export function settled(saleId: string, state: RoomState, unitsLeft: number, publicId?: string): RoomStatus {
  return {
    saleId,
    state,
    position: null,
    ahead: null,
    unitsLeft,
    refreshMs: 0,
    token: null,
    grant: null,
    grantExpiresAt: null,
    etaSeconds: null,
    ...(publicId === undefined ? {} : { publicId }),
  }
}
