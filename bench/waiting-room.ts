/**
 * `npm run bench:waiting-room` — a million shoppers queueing for a sharded waiting room, simulated in-process
 * in simulated time. The edge side is the real code (`answerPoll`, the frontier TTL, refresh intervals);
 * the shards are an in-memory model of the WaitingRoom object (per-shard FIFO by order key, admission budget
 * at admitPerMinute / N, token pool, grant TTL, recycling, sold out). Every call the real edge would make to
 * a Durable Object is counted: joins, frontier refreshes (once per edge instance per TTL) and the one status
 * call an admitted shopper makes to fetch its grant.
 *
 *   npm run bench:waiting-room -- [--shoppers 1000000] [--stock 10000] [--shards 8] [--edges 50]
 *        [--admit-per-minute 60000] [--token-ttl 60] [--prequeue-share 0.6] [--hold-ms 20000] [--json]
 *
 * Shoppers hold their polls (`?waitMs=`, as the waiting page does): a held poll stays parked on its edge
 * instance, is re-read each time that instance refreshes its frontier snapshot, and ends when the shopper is
 * admitted or told sold out, or when min(hold, suggested refresh) has passed.
 * `--hold-ms 0` models plain polling at the suggested interval instead.
 */
import { parseArgs } from 'node:util'
import type { QueueTicketPayload } from '../contracts/index.ts'
import { answerPoll, FRONTIER_TTL_MS, HELD_REFRESH_MS, type EdgeAnswer } from '../waiting-room/frontier.ts'
import type { RoomFrontier } from '../waiting-room/frontier.ts'

const { values: args } = parseArgs({
  options: {
    shoppers: { type: 'string', default: '1000000' },
    stock: { type: 'string', default: '10000' },
    shards: { type: 'string', default: '8' },
    edges: { type: 'string', default: '50' },
    'admit-per-minute': { type: 'string', default: '60000' },
    'token-ttl': { type: 'string', default: '60' },
    'prequeue-share': { type: 'string', default: '0.6' },
    'redeem-share': { type: 'string', default: '0.85' },
    'failure-rate': { type: 'string', default: '0.2' },
    'hold-ms': { type: 'string', default: '20000' },
    seed: { type: 'string', default: '7' },
    json: { type: 'boolean', default: false },
  },
})
const SHOPPERS = Number(args.shoppers)
const STOCK = Number(args.stock)
const N = Number(args.shards)
const EDGES = Number(args.edges)
const RATE = Number(args['admit-per-minute'])
const TTL_MS = Number(args['token-ttl']) * 1000
const PRE_SHARE = Number(args['prequeue-share'])
const REDEEM_SHARE = Number(args['redeem-share'])
const FAILURE = Number(args['failure-rate'])
const HOLD_MS = Number(args['hold-ms'])
const STEP_MS = 100
const PREQUEUE_MS = 60_000
const ARRIVAL_AFTER_START_MS = 60_000
const GRACE_MS = 5_000

// Deterministic PRNGs (mulberry32) so runs are comparable: one drives the sale (arrivals, shards, payments),
// the other only how shoppers poll (edge instance, jitter), so --hold-ms 0 and a hold see the same sale.
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rand = mulberry32(Number(args.seed))
const pollRand = mulberry32(Number(args.seed) ^ 0x5bd1e995)

// ---------------------------------------------------------------- shoppers (struct of arrays)
const shardOf = new Uint8Array(SHOPPERS)
const seqOf = new Int32Array(SHOPPERS)
const preOf = new Uint8Array(SHOPPERS)
const ordOf = new Float64Array(SHOPPERS)
const joinAt = new Float64Array(SHOPPERS)
/** 0 not arrived, 1 waiting, 2 admitted (grant fetched), 3 done (bought / failed / lapsed), 4 told sold out */
const state = new Uint8Array(SHOPPERS)
const admittedByRoom = new Uint8Array(SHOPPERS)
/** Held polls: when the hold runs out, and whether it began before the start (parked lists per edge instance). */
const holdUntil = new Float64Array(SHOPPERS)
const heldNotStarted = new Uint8Array(SHOPPERS)
/** The edge instance holding the shopper's poll, -1 when none; `pass` dedupes lazily removed list entries. */
const parkedOn = new Int16Array(SHOPPERS).fill(-1)
const seenPass = new Int32Array(SHOPPERS)
let pass = 0
const doCalls = new Uint16Array(SHOPPERS)
let polls = 0

// ---------------------------------------------------------------- shard model
type Shard = {
  queue: number[] // shopper indexes, sorted by ord once the sale starts
  head: number
  budget: number
  available: number
  loaded: number
  sold: number
  granted: number
  throughOrd: number
  seq: number
  prequeueJoined: number
  requests: number
}
const shards: Shard[] = Array.from({ length: N }, () => ({
  queue: [],
  head: 0,
  budget: 0,
  available: 0,
  loaded: 0,
  sold: 0,
  granted: 0,
  throughOrd: -1,
  seq: 0,
  prequeueJoined: 0,
  requests: 0,
}))
for (let i = 0; i < STOCK; i++) {
  shards[i % N]!.loaded++
  shards[i % N]!.available++
}
const perSecond = new Map<number, number[]>() // second -> requests per shard
function hit(shard: number, t: number): void {
  shards[shard]!.requests++
  const second = Math.floor(t / 1000)
  let row = perSecond.get(second)
  if (!row) perSecond.set(second, (row = new Array(N).fill(0)))
  row[shard] = (row[shard] ?? 0) + 1
}

/** Timed events: token returns / sales at a future time. */
const events: Array<{ at: number; shard: number; kind: 'sold' | 'returned' }> = []
const pollWheel = new Map<number, number[]>()
/** Held polls whose hold runs out in a slot (the edge wakes them then, as it does at a snapshot refresh). */
const holdWheel = new Map<number, number[]>()
function scheduleHoldEnd(shopper: number, at: number): void {
  const slot = Math.ceil(at / STEP_MS)
  let list = holdWheel.get(slot)
  if (!list) holdWheel.set(slot, (list = []))
  list.push(shopper)
}
function schedulePoll(shopper: number, at: number): void {
  const slot = Math.ceil(at / STEP_MS)
  let list = pollWheel.get(slot)
  if (!list) pollWheel.set(slot, (list = []))
  list.push(shopper)
}

const START = PREQUEUE_MS
const arrivals = Array.from({ length: SHOPPERS }, (_, i) =>
  rand() < PRE_SHARE ? rand() * PREQUEUE_MS : START + rand() * ARRIVAL_AFTER_START_MS,
)
  .map((at, i) => ({ at, i }))
  .sort((a, b) => a.at - b.at)
let nextArrival = 0

const edgeCache: Array<{ at: number; frontiers: RoomFrontier[] } | null> = new Array(EDGES).fill(null)
let frontierRefreshes = 0
function snapshot(t: number): RoomFrontier[] {
  return shards.map((s, k) => ({
    saleId: 'bench',
    shard: k,
    shards: N,
    at: t,
    startsAt: START,
    mode: 'open',
    admitPerMinute: RATE,
    prequeueOrder: 'shuffle',
    seed: t >= START ? 'seed' : null,
    throughOrd: s.throughOrd,
    waiting: s.queue.length - s.head,
    prequeueWaiting: 0,
    prequeueJoined: s.prequeueJoined,
    loaded: s.loaded,
    available: s.available,
    granted: s.granted,
    redeemed: 0,
    sold: s.sold,
  }))
}
function edgeFrontiers(edge: number, t: number): RoomFrontier[] {
  const cached = edgeCache[edge]
  if (cached && t - cached.at < FRONTIER_TTL_MS) return cached.frontiers
  for (let k = 0; k < N; k++) hit(k, t)
  frontierRefreshes++
  const fresh = snapshot(t)
  edgeCache[edge] = { at: t, frontiers: fresh }
  return fresh
}

const parked: number[][] = Array.from({ length: EDGES }, () => [])
/** The snapshot time each instance's held polls were last re-read at. */
const parkedSeen = new Float64Array(EDGES).fill(-1)

/** What the shopper does with an answer: 'done' (admitted or told sold out) or 'waiting'. */
function settle(i: number, answer: EdgeAnswer, t: number): 'done' | 'waiting' {
  if (answer.kind === 'room') {
    hit(shardOf[i]!, t)
    doCalls[i] = doCalls[i]! + 1
    state[i] = admittedByRoom[i] ? 2 : 1
    if (state[i] === 1) schedulePoll(i, t + 1000)
    return 'done'
  }
  if (answer.status.state === 'sold_out') {
    state[i] = 4
    if (soldOutAt !== null) lastSoldOutNotice = Math.max(lastSoldOutNotice, t - soldOutAt)
    return 'done'
  }
  return 'waiting'
}

function answerFor(i: number, f: RoomFrontier[], t: number): EdgeAnswer {
  ticket.shard = shardOf[i]!
  ticket.seq = seqOf[i]!
  ticket.pre = preOf[i] === 1
  ticket.iat = joinAt[i]!
  const ord = ticket.pre ? (f[0]!.seed === null ? null : ordOf[i]!) : 1 + seqOf[i]!
  return answerPoll(ticket, ord, f, t)
}

let shuffled = false
let soldOutAt: number | null = null
let lastSoldOutNotice = 0
let admitted = 0
const ticket = {
  typ: 'qt',
  sale: 'bench',
  shard: 0,
  seq: 0,
  pre: false,
  sub: 'x'.repeat(22),
  iat: 0,
} as QueueTicketPayload

const started = performance.now()
let t = 0
for (; t < START + 30 * 60_000; t += STEP_MS) {
  // arrivals: one object request (place) each
  while (nextArrival < arrivals.length && arrivals[nextArrival]!.at <= t) {
    const { i } = arrivals[nextArrival++]!
    const k = Math.floor(rand() * N)
    const s = shards[k]!
    shardOf[i] = k
    seqOf[i] = ++s.seq
    preOf[i] = t < START ? 1 : 0
    if (preOf[i]) s.prequeueJoined++
    ordOf[i] = preOf[i] ? rand() : 1 + seqOf[i]!
    joinAt[i] = t
    hit(k, t)
    doCalls[i] = doCalls[i]! + 1
    if (soldOutAt !== null && s.sold === s.loaded) {
      state[i] = 4
      continue
    }
    state[i] = 1
    s.queue.push(i)
    schedulePoll(i, t + 1000 + pollRand() * 1000)
  }
  if (!shuffled && t >= START) {
    for (const s of shards) {
      const pre = s.queue.filter((i) => preOf[i] === 1).sort((a, b) => ordOf[a]! - ordOf[b]!)
      s.queue = pre
    }
    shuffled = true
  }
  // timed token outcomes
  for (let e = events.length - 1; e >= 0; e--) {
    const ev = events[e]!
    if (ev.at > t) continue
    const s = shards[ev.shard]!
    s.granted--
    if (ev.kind === 'sold') s.sold++
    else s.available++
    events.splice(e, 1)
  }
  // admission (the shard's alarm)
  if (t >= START) {
    for (const s of shards) {
      s.budget = Math.min(s.budget + (RATE / N / 60_000) * STEP_MS, Math.max(1, (RATE / N) * (10 / 60)))
      while (s.budget >= 1 && s.available > 0 && s.head < s.queue.length) {
        const i = s.queue[s.head++]!
        if (state[i] !== 1) continue
        s.budget--
        s.available--
        s.granted++
        s.throughOrd = Math.max(s.throughOrd, ordOf[i]!)
        admittedByRoom[i] = 1
        admitted++
        // what the shopper then does with the grant
        const redeems = rand() < REDEEM_SHARE
        if (redeems)
          events.push({
            at: t + 5_000 + rand() * 10_000,
            shard: shardOf[i]!,
            kind: rand() < FAILURE ? 'returned' : 'sold',
          })
        else events.push({ at: t + TTL_MS + GRACE_MS + 1_000, shard: shardOf[i]!, kind: 'returned' })
      }
    }
  }
  if (soldOutAt === null && shards.every((s) => s.sold === s.loaded)) soldOutAt = t
  // polls due now, each to a random edge instance
  const due = pollWheel.get(Math.ceil(t / STEP_MS))
  if (due) {
    pollWheel.delete(Math.ceil(t / STEP_MS))
    for (const i of due) {
      if (state[i] !== 1) continue
      polls++
      const edge = Math.floor(pollRand() * EDGES)
      const answer = answerFor(i, edgeFrontiers(edge, t), t)
      if (settle(i, answer, t) === 'done' || answer.kind !== 'status') continue
      if (HOLD_MS > 0) {
        holdUntil[i] = t + Math.min(HOLD_MS, answer.status.refreshMs)
        heldNotStarted[i] = answer.status.state === 'not_started' ? 1 : 0
        parked[edge]!.push(i)
        parkedOn[i] = edge
        scheduleHoldEnd(i, holdUntil[i]!)
      } else schedulePoll(i, t + answer.status.refreshMs * (0.8 + pollRand() * 0.4))
    }
  }
  // held polls whose hold ran out: answered from their edge's snapshot (refreshed if stale), asked again at once
  const ending = holdWheel.get(Math.ceil(t / STEP_MS))
  if (ending) {
    holdWheel.delete(Math.ceil(t / STEP_MS))
    for (const i of ending) {
      const e = parkedOn[i]!
      if (state[i] !== 1 || e < 0 || holdUntil[i]! > t) continue
      parkedOn[i] = -1
      const answer = answerFor(i, edgeFrontiers(e, t), t)
      if (settle(i, answer, t) === 'done' || answer.kind !== 'status') continue
      schedulePoll(i, t + HELD_REFRESH_MS * (0.8 + pollRand() * 0.4))
    }
  }
  // held polls: each edge instance re-reads its snapshot when it goes stale and answers whoever it can
  let parkedCount = 0
  for (let e = 0; e < EDGES; e++) {
    const list = parked[e]!
    if (list.length === 0) continue
    // Held requests wake when the snapshot goes stale; whoever asks first refreshes it (a poll may have already).
    const f = edgeFrontiers(e, t)
    if (edgeCache[e]!.at === parkedSeen[e]) {
      parkedCount += list.length
      continue
    }
    parkedSeen[e] = edgeCache[e]!.at
    const keep: number[] = []
    pass++
    for (const i of list) {
      if (state[i] !== 1 || parkedOn[i] !== e || seenPass[i] === pass) continue
      seenPass[i] = pass
      const answer = answerFor(i, f, t)
      if (settle(i, answer, t) === 'done' || answer.kind !== 'status') {
        parkedOn[i] = -1
        continue
      }
      // The sale started: answered now (the new state), and the shopper asks again at once.
      if (heldNotStarted[i] === 1 && answer.status.state !== 'not_started') {
        parkedOn[i] = -1
        schedulePoll(i, t + HELD_REFRESH_MS * (0.8 + pollRand() * 0.4))
      } else keep.push(i)
    }
    parked[e] = keep
    parkedCount += keep.length
  }
  if (soldOutAt !== null && nextArrival >= arrivals.length && pollWheel.size === 0 && parkedCount === 0) break
}

const told = state.reduce((n, s) => n + (s === 4 ? 1 : 0), 0)
const stillWaiting = state.reduce((n, s) => n + (s === 1 ? 1 : 0), 0)
let admittedCalls = 0
for (let i = 0; i < SHOPPERS; i++) if (admittedByRoom[i]) admittedCalls += doCalls[i]!
const totalRequests = shards.reduce((n, s) => n + s.requests, 0)
let peakObjectRps = 0
for (const row of perSecond.values()) for (const v of row) peakObjectRps = Math.max(peakObjectRps, v)
const result = {
  shoppers: SHOPPERS,
  stock: STOCK,
  shards: N,
  edgeInstances: EDGES,
  holdMs: HOLD_MS,
  admitPerMinute: RATE,
  admitted,
  sold: shards.reduce((n, s) => n + s.sold, 0),
  toldSoldOut: told,
  stillWaiting,
  polls,
  doRequests: totalRequests,
  frontierRefreshes,
  doRequestsPerAdmitted: Math.round((admittedCalls / Math.max(1, admitted)) * 100) / 100,
  doRequestsPerShopper: Math.round((totalRequests / SHOPPERS) * 1000) / 1000,
  doRequestsPerPoll: Math.round(((frontierRefreshes * N) / Math.max(1, polls)) * 10_000) / 10_000,
  peakObjectRps,
  soldOutAtSeconds: soldOutAt === null ? null : Math.round((soldOutAt - START) / 100) / 10,
  soldOutNoticeMs: Math.round(lastSoldOutNotice),
  simulatedSeconds: Math.round(t / 100) / 10,
  wallSeconds: Math.round((performance.now() - started) / 100) / 10,
}
if (!args.json) {
  const rows: Array<[string, string | number | null]> = [
    ['shoppers', result.shoppers],
    ['stock', result.stock],
    ['shards x edge instances', `${N} x ${EDGES}`],
    ['poll hold (ms, 0 = plain polls)', HOLD_MS],
    ['admitted', result.admitted],
    ['sold', result.sold],
    ['told sold out', result.toldSoldOut],
    ['still waiting', result.stillWaiting],
    ['polls (answered at the edge)', result.polls],
    ['object requests', result.doRequests],
    ['object requests per admitted shopper', result.doRequestsPerAdmitted],
    ['object requests per shopper', result.doRequestsPerShopper],
    ['object requests per poll', result.doRequestsPerPoll],
    ['peak requests/s on one object', result.peakObjectRps],
    ['sold out at (s after start)', result.soldOutAtSeconds],
    ['last sold-out notice (ms after)', result.soldOutNoticeMs],
    ['simulated / wall seconds', `${result.simulatedSeconds} / ${result.wallSeconds}`],
  ]
  for (const [name, value] of rows) console.log(`${name.padEnd(40)} ${value}`)
}
console.log(JSON.stringify(result))
