/**
 * Answering a poll at the edge: from the shopper's signed queue ticket and the shards' cached frontier
 * snapshots, either a complete answer (waiting, with position, ETA and units left; sold out; not started) or
 * "ask the room" — only when the frontier has reached the ticket, i.e. the shopper may hold a grant now.
 *
 * Pure and synchronous (no Workers APIs), so the edge and the waiting-room benchmark run the same code.
 */
import type { QueueTicketPayload, RoomMode, RoomStatus } from '../contracts/index.ts'

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
}


/** How long an edge instance reuses the shards' frontier snapshots. Polls within it cost no object request. */
export const FRONTIER_TTL_MS = 1_000
/** Fastest suggested poll interval. */
export const TIGHT_REFRESH_MS = 1_000
/**
 * While no unit is free, the front of the line polls every NO_UNIT_FREE_REFRESH_MS, plus that much again per
 * NO_UNIT_FREE_SLOWDOWN_PER shoppers ahead (capped): one local workerd isolate cannot take 5,000 shoppers
 * polling every second. A plain poll therefore learns "sold out" up to LOOSE_REFRESH_MS late; a held poll
 * (`?waitMs=`, see HELD_REFRESH_MS) within about FRONTIER_TTL_MS.
 */
export const NO_UNIT_FREE_REFRESH_MS = 2_000
export const NO_UNIT_FREE_SLOWDOWN_PER = 250
export const LOOSE_REFRESH_MS = 10_000
export const PAUSED_REFRESH_MS = 5_000
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

export function answerPoll(
  ticket: QueueTicketPayload,
  ord: number | null,
  shards: RoomFrontier[],
  now: number,
): EdgeAnswer {
  const f = shards[ticket.shard]
  if (!f) return { kind: 'room' }
  const sum = totals(shards)
  const base = {
    saleId: f.saleId,
    position: null,
    ahead: null,
    unitsLeft: sum.unitsLeft,
    refreshMs: 0,
    token: null,
    grant: null,
    grantExpiresAt: null,
    etaSeconds: null,
  }
  const started = now >= f.startsAt
  // While the operator holds admission an ETA would be a promise nobody keeps: say so instead.
  const held = f.mode === 'open' ? {} : { admission: f.mode, etaSeconds: null }
  // Nobody can have more people ahead than wait in the shard, by the snapshot, unless the place was taken after
  // the snapshot (a just-joined or reopened tab within FRONTIER_TTL_MS): then the snapshot does not count it.
  const maxAhead = ticket.iat <= f.at ? f.waiting - 1 : Number.POSITIVE_INFINITY
  // Every shard's pool is spent for good: nothing can come back to anyone. (One shard's pool being spent is not
  // enough: the others lend tokens their own lines do not need to a shard whose line still waits.) `sold` only
  // grows, so snapshots of different ages can only under-count it.
  if (started && sum.loaded > 0 && sum.sold === sum.loaded) return { kind: 'status', status: { ...base, state: 'sold_out' } }
  if (ord !== null && ord <= f.throughOrd) return { kind: 'room' }
  if (!started || ord === null) {
    const untilStart = Math.max(0, f.startsAt - now)
    const known = ord !== null
    const aheadHere = known ? Math.max(0, Math.min(maxAhead, ticket.seq - 1)) : null
    const ahead = aheadHere === null ? null : aheadHere * f.shards
    const etaMs = untilStart + (ahead === null ? 0 : (ahead * 60_000) / f.admitPerMinute)
    return {
      kind: 'status',
      status: {
        ...base,
        state: started ? 'waiting' : 'not_started',
        position: ahead === null ? null : ahead + 1,
        ahead,
        etaSeconds: Math.ceil(etaMs / 1000),
        refreshMs: started ? 500 : Math.round(Math.min(LOOSE_REFRESH_MS, Math.max(500, untilStart / 2))),
        ...(started ? held : {}),
      },
    }
  }
  // Waiting behind the frontier: estimate who is ahead in this shard, then scale to the whole sale.
  const through = f.throughOrd
  let aheadHere: number
  if (ord < 1) {
    const from = Math.max(0, through)
    aheadHere = Math.round(((ord - from) / Math.max(1e-12, 1 - from)) * f.prequeueWaiting)
  } else if (through >= 1) {
    aheadHere = Math.round(ord - through - 1)
  } else {
    aheadHere = f.prequeueWaiting + Math.max(0, ticket.seq - 1 - f.prequeueJoined)
  }
  aheadHere = Math.max(0, Math.min(aheadHere, maxAhead))
  const ahead = aheadHere * f.shards
  const etaMs = (ahead * 60_000) / f.admitPerMinute
  const refreshMs =
    f.mode !== 'open'
      ? PAUSED_REFRESH_MS
      : sum.available === 0
        ? Math.round(Math.min(LOOSE_REFRESH_MS, NO_UNIT_FREE_REFRESH_MS * (1 + ahead / NO_UNIT_FREE_SLOWDOWN_PER)))
        : Math.round(Math.min(LOOSE_REFRESH_MS, Math.max(TIGHT_REFRESH_MS, etaMs / 2)))
  return {
    kind: 'status',
    status: {
      ...base,
      state: 'waiting',
      position: ahead + 1,
      ahead,
      etaSeconds: Math.ceil(etaMs / 1000),
      refreshMs,
      ...held,
    },
  }
}
