/**
 * Answering a poll at the edge: from the shopper's signed queue ticket and the shards' cached frontier
 * snapshots, either a complete answer (waiting, with position, ETA and units left; sold out; not started) or
 * "ask the room" — only when the frontier has reached the ticket, i.e. the shopper may hold a grant now.
 *
 * Pure and synchronous (no Workers APIs), so the edge and the waiting-room benchmark run the same code.
 */
import type { JoinPolicy, QueueTicketPayload, RoomMode, RoomStatus } from '../contracts/index.ts'
import { position, settled } from './position.ts'

/**
 * What the edge caches (~1 s) to answer polls without this object: where admission has reached, how many
 * wait, and the pool's counts. `seed` is null until the start.
 */
export type RoomFrontier = {
  saleId: string
  shard: number
  shards: number
  at: number
  startsAt: number
  mode: RoomMode
  admitPerMinute: number
  prequeueOrder: 'shuffle' | 'fifo'
  seed: string | null
  /** Highest `ord` admitted so far (-1: nobody yet). Every waiting ticket with a lower ord has been served. */
  throughOrd: number
  waiting: number
  prequeueWaiting: number
  /** Places ever taken during the pre-queue (their seqs come first). */
  prequeueJoined: number
  loaded: number
  available: number
  granted: number
  redeemed: number
  sold: number
  /** The room's cap on places per client network, if any (places of one network then share a shard). */
  maxPlacesPerIp?: number | null
  /** Who may join (contracts' `JoinPolicy`); absent: anonymous. */
  joinPolicy?: JoinPolicy
  /** When the pre-queue opened (the room's first configuration), epoch ms. */
  prequeueOpenedAt?: number | null
}

/** How long an edge instance reuses the shards' frontier snapshots. Polls within it cost no object request. */
export const FRONTIER_TTL_MS = 1_000
/**
 * What a held poll (`?waitMs=`) suggests as its next interval: the shopper asks again at once and is held
 * again, so it is nearly always inside a held request that the edge answers within about FRONTIER_TTL_MS of
 * an admission or a sell-out. The request rate stays that of plain polling (a hold lasts up to refreshMs).
 */
export const HELD_REFRESH_MS = 100

export type EdgeAnswer = { kind: 'room' } | { kind: 'status'; status: RoomStatus }

/** Sums over the sale's shards. */
export function totals(shards: RoomFrontier[]) {
  let loaded = 0
  let sold = 0
  let available = 0
  let waiting = 0
  for (const f of shards) {
    loaded += f.loaded
    sold += f.sold
    available += f.available
    waiting += f.waiting
  }
  return { loaded, sold, available, waiting, unitsLeft: loaded - sold }
}

/**
 * The shopper's order key: 1 + seq for FIFO places; for a pre-queue place in a shuffled room, `shuffleKey`
 * (computed by the caller, since it needs the revealed seed), or null while the seed is still secret.
 */
export function fifoOrd(ticket: QueueTicketPayload, frontier: RoomFrontier): number | null {
  if (ticket.pre && frontier.prequeueOrder === 'shuffle') return null
  return 1 + ticket.seq
}

/**
 * The edge's estimate of how many wait ahead of the ticket in its own shard, from the snapshot; null while the
 * order is secret. Nobody can have more people ahead than wait in the shard, by the snapshot, unless the place
 * was taken after the snapshot (a just-joined or reopened tab within FRONTIER_TTL_MS): then it does not count it.
 */
function aheadInShard(ticket: QueueTicketPayload, ord: number | null, f: RoomFrontier, started: boolean) {
  if (ord === null) return null
  const maxAhead = ticket.iat <= f.at ? f.waiting - 1 : Number.POSITIVE_INFINITY
  let ahead: number
  if (!started) ahead = ticket.seq - 1
  else if (ord < 1) {
    const from = Math.max(0, f.throughOrd)
    ahead = Math.round(((ord - from) / Math.max(1e-12, 1 - from)) * f.prequeueWaiting)
  } else if (f.throughOrd >= 1) ahead = Math.round(ord - f.throughOrd - 1)
  else ahead = f.prequeueWaiting + Math.max(0, ticket.seq - 1 - f.prequeueJoined)
  return Math.max(0, Math.min(ahead, maxAhead))
}

/** `publicId`: the ticket holder's public id, carried in the answer (the edge computes it, see `publicIdOf`). */
export function answerPoll(
  ticket: QueueTicketPayload,
  ord: number | null,
  shards: RoomFrontier[],
  now: number,
  publicId?: string,
): EdgeAnswer {
  const f = shards[ticket.shard]
  if (!f) return { kind: 'room' }
  const sum = totals(shards)
  const started = now >= f.startsAt
  // Every shard's pool is spent for good: nothing can come back to anyone. (One shard's pool being spent is not
  // enough: the others lend tokens their own lines do not need to a shard whose line still waits.) `sold` only
  // grows, so snapshots of different ages can only under-count it.
  if (started && sum.loaded > 0 && sum.sold === sum.loaded) {
    return { kind: 'status', status: settled(f.saleId, 'sold_out', sum.unitsLeft, publicId) }
  }
  // The frontier has reached the ticket: the shopper may hold a grant now, which only the room can tell.
  if (ord !== null && ord <= f.throughOrd) return { kind: 'room' }
  const status = position({
    saleId: f.saleId,
    now,
    startsAt: f.startsAt,
    admitPerMinute: f.admitPerMinute,
    shards: f.shards,
    mode: f.mode,
    aheadHere: aheadInShard(ticket, ord, f, started),
    unitsLeft: sum.unitsLeft,
    unitFree: sum.available > 0,
    publicId,
  })
  return { kind: 'status', status }
}
