/**
 * Checks a sale's public fairness proof (contracts/fairness.ts) with nothing but the public data: no operator
 * key, no admin token. Pure apart from hashing (Web Crypto, through contracts), so it runs in any runtime.
 *
 * - commitment: sha256(revealed seed) is the commitment published before the pre-queue opened (and the one the
 *   checker saved earlier, if they did);
 * - joins: every pre-queue place was taken before the start, each public id holds one, each shard's list is
 *   as long as its last page says;
 * - shuffle: in every shard, the pre-queue was admitted in the order shuffleKey(seed, publicId) gives (join
 *   order for a fifo pre-queue), nobody admitted from it who is not in the published list, and nobody who
 *   joined after the start before the whole pre-queue of the shard;
 * - fifo: in every shard, first-come shoppers were admitted in arrival order: Kendall tau-b between join time
 *   and place in the shard's admission log >= 0.99 (the log must be dated in order; shoppers admitted in one
 *   pass share a millisecond and the log orders them);
 * - tokens: every admission is a distinct generation of one token, a token's generations go out one after the
 *   other, and no more tokens were used than were loaded (nor than the sale's stock);
 * - counts: each shard's admission log is as long as its last page says, and every entry agrees with the
 *   start (admitted after it; marked pre-queue exactly when joined before it).
 *
 * The summary's counts are not compared with the lists: each answer is cached for a moment at the edge, so on
 * a live sale the summary may be younger or older than a page. A page and its `total` are read together.
 */
import {
  seedCommitment,
  shuffleKey,
  type FairnessAdmission,
  type FairnessJoin,
  type FairnessSummary,
} from '../contracts/index.ts'
import { kendallTau } from './kendall.ts'

/** Everything the proof publishes about one sale. */
export type PublicFairness = {
  summary: FairnessSummary
  joins: FairnessJoin[]
  admissions: FairnessAdmission[]
  /** The sale's stock from its public catalog entry, when it could be read. */
  stock: number | null
  /** Per shard, how long each list was when its last page was read (absent: not known). */
  totals: { joins: Array<number | undefined>; admissions: Array<number | undefined> }
}

export const FIFO_TAU_MIN = 0.99

export type CheckName = 'commitment' | 'joins' | 'shuffle' | 'fifo' | 'tokens' | 'counts'
/** `ok` null: nothing to check yet (before the start). */
export type Check = { name: CheckName; ok: boolean | null; detail: string }

export type ShardVerdict = {
  shard: number
  joins: number
  admissions: number
  /** First-come admissions and their Kendall tau-b (arrival vs admission), with the pairs out of order. */
  fifoAdmissions: number
  kendallTau: number | null
  outOfOrder: number
}

export type FairnessVerdict = {
  saleId: string
  at: number
  startsAt: string
  started: boolean
  shards: number
  prequeueOrder: 'shuffle' | 'fifo'
  commitment: string | null
  seed: string | null
  tokens: number
  stock: number | null
  joined: number
  prequeueJoined: number
  admitted: number
  checks: Check[]
  /** The lowest of the shards' tau-b (null when no shard has two first-come admissions). */
  kendallTau: number | null
  perShard: ShardVerdict[]
  /** What makes an honest log look irregular, counted so a reader sees why it still holds. */
  explained: {
    /** First-come pairs that joined, or were admitted, in the same millisecond (neither order is wrong). */
    tiedJoinTimes: number
    tiedAdmissionTimes: number
    /** Admissions of a token's later generation: a unit back from a failed payment or a lapsed grant. */
    recycled: number
    /** Shoppers admitted more than once: their grant lapsed and they joined again, at the back. */
    readmitted: number
    /** Generations never in the log: lent to another shard's shopper, who was admitted meanwhile, and given back. */
    unusedGenerations: number
  }
  ok: boolean
}

export type VerifyOptions = {
  /** A commitment the checker saved before the start: the revealed seed must match it too. */
  commitment?: string
}

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`

function byShard<T extends { shard: number }>(items: T[], shards: number): T[][] {
  const out: T[][] = Array.from({ length: shards }, () => [])
  for (const item of items) out[item.shard]?.push(item)
  return out
}

async function commitmentCheck(s: FairnessSummary, options: VerifyOptions): Promise<Check> {
  const name = 'commitment'
  if (options.commitment !== undefined && options.commitment !== s.commitment) {
    return { name, ok: false, detail: `the commitment is not the one saved earlier (${options.commitment})` }
  }
  if (s.seed === null) {
    if (s.started) return { name, ok: false, detail: 'the sale has started but its seed is not revealed' }
    return { name, ok: null, detail: s.commitment === null ? 'nothing published yet' : 'seed not revealed yet' }
  }
  if (s.commitment === null) return { name, ok: false, detail: 'a seed was revealed with no commitment published' }
  const ok = (await seedCommitment(s.seed)) === s.commitment
  return { name, ok, detail: ok ? 'sha256(seed) matches the commitment' : 'sha256(seed) is not the commitment' }
}

function joinsCheck(data: PublicFairness): Check {
  const { summary: s, joins } = data
  const startsAt = Date.parse(s.startsAt)
  const seen = new Set<string>()
  for (const j of joins) {
    if (j.shard >= s.shards) return { name: 'joins', ok: false, detail: `a place in shard ${j.shard} of ${s.shards}` }
    if (j.joinedAt >= startsAt) {
      return { name: 'joins', ok: false, detail: `${j.publicId} joined the pre-queue after the start` }
    }
    if (seen.has(j.publicId)) return { name: 'joins', ok: false, detail: `${j.publicId} holds two pre-queue places` }
    seen.add(j.publicId)
  }
  for (const [shard, list] of byShard(joins, s.shards).entries()) {
    const total = data.totals.joins[shard]
    if (total !== undefined && list.length !== total) {
      const detail = `shard ${shard} lists ${list.length} pre-queue places, its last page says ${total}`
      return { name: 'joins', ok: false, detail }
    }
  }
  return { name: 'joins', ok: true, detail: `${plural(joins.length, 'pre-queue place')}, all before the start` }
}

/** The public ids of a shard's pre-queue in the order the draw gives. */
async function drawOrder(s: FairnessSummary, joins: FairnessJoin[]): Promise<string[]> {
  const keyed = await Promise.all(
    joins.map(async (j) => ({ j, key: s.prequeueOrder === 'shuffle' ? await shuffleKey(s.seed!, j.publicId) : 0 })),
  )
  return keyed.sort((a, b) => a.key - b.key || a.j.seq - b.j.seq).map((k) => k.j.publicId)
}

async function shuffleCheck(data: PublicFairness): Promise<Check> {
  const { summary: s } = data
  const name = 'shuffle'
  if (s.seed === null) return { name, ok: s.started ? false : null, detail: 'seed not revealed yet' }
  const joins = byShard(data.joins, s.shards)
  const admissions = byShard(data.admissions, s.shards)
  let admitted = 0
  for (let shard = 0; shard < s.shards; shard++) {
    const order = await drawOrder(s, joins[shard]!)
    const listed = new Set(order)
    const drawn: string[] = []
    for (const [i, a] of admissions[shard]!.entries()) {
      const where = `shard ${shard}, admission ${i + 1}`
      if (!a.pre) {
        if (drawn.length < order.length) {
          const detail = `${where}: ${a.publicId} joined after the start but came before ${order[drawn.length]}`
          return { name, ok: false, detail: `${detail} of the pre-queue` }
        }
        continue
      }
      if (!listed.has(a.publicId)) {
        return { name, ok: false, detail: `${where}: ${a.publicId} is not in the published pre-queue join list` }
      }
      if (drawn.includes(a.publicId)) {
        return { name, ok: false, detail: `${where}: ${a.publicId} admitted twice from one pre-queue place` }
      }
      if (order[drawn.length] !== a.publicId) {
        return { name, ok: false, detail: `${where}: ${a.publicId}, but the draw puts ${order[drawn.length]} there` }
      }
      drawn.push(a.publicId)
    }
    admitted += drawn.length
  }
  const how = s.prequeueOrder === 'shuffle' ? 'the order sha256(seed:publicId) gives' : 'join order (fifo pre-queue)'
  return { name, ok: true, detail: `every shard admitted its pre-queue in ${how} (${plural(admitted, 'admission')})` }
}

function fifoCheck(data: PublicFairness, perShard: ShardVerdict[], ties: { join: number; admission: number }): Check {
  const { summary: s } = data
  const admissions = byShard(data.admissions, s.shards)
  let misdated: string | null = null
  for (let shard = 0; shard < s.shards; shard++) {
    const list = admissions[shard]!
    for (let i = 1; i < list.length && misdated === null; i++) {
      if (list[i]!.admittedAt < list[i - 1]!.admittedAt) {
        misdated = `shard ${shard}: admission ${i + 1} is dated before the one before it`
      }
    }
    const fifo = list.filter((a) => !a.pre)
    // Admission order is the log's order: shoppers admitted in one pass share a millisecond, and the log (checked
    // above to be dated in order) says who went first. Ranking by time alone would count a batch as ties.
    const tau = kendallTau(
      fifo.map((a) => a.joinedAt),
      fifo.map((_, i) => i),
    )
    ties.join += tau.tiedX
    for (let i = 1; i < fifo.length; i++) if (fifo[i]!.admittedAt === fifo[i - 1]!.admittedAt) ties.admission++
    perShard.push({
      shard,
      joins: data.joins.filter((j) => j.shard === shard).length,
      admissions: list.length,
      fifoAdmissions: fifo.length,
      kendallTau: tau.tau,
      outOfOrder: tau.discordant,
    })
  }
  if (misdated !== null) return { name: 'fifo', ok: false, detail: misdated }
  const measured = perShard.filter((p) => p.kendallTau !== null)
  const fifoTotal = perShard.reduce((n, p) => n + p.fifoAdmissions, 0)
  if (measured.length === 0) return { name: 'fifo', ok: null, detail: `${plural(fifoTotal, 'first-come admission')}` }
  const low = measured.filter((p) => p.kendallTau! < FIFO_TAU_MIN)
  const taus = measured.map((p) => `shard ${p.shard} ${p.kendallTau!.toFixed(4)}`).join(', ')
  const tied = `${plural(ties.join, 'pair')} tied in arrival, ${plural(ties.admission, 'admission')} in the same millisecond as the one before (in log order)`
  const detail = `Kendall tau-b, arrival vs admission, ${plural(fifoTotal, 'first-come admission')}: ${taus} (${tied})`
  return { name: 'fifo', ok: low.length === 0, detail: low.length ? `${detail}; below ${FIFO_TAU_MIN}` : detail }
}

function tokensCheck(data: PublicFairness, explained: FairnessVerdict['explained']): Check {
  const { summary: s } = data
  const byToken = new Map<string, FairnessAdmission[]>()
  for (const a of data.admissions) byToken.set(a.token, [...(byToken.get(a.token) ?? []), a])
  let problem: string | null = null
  for (const [token, list] of byToken) {
    list.sort((a, b) => a.admittedAt - b.admittedAt || a.gen - b.gen)
    for (let i = 1; i < list.length && problem === null; i++) {
      const [before, after] = [list[i - 1]!, list[i]!]
      if (after.gen <= before.gen) {
        problem = `token ${token}: generation ${after.gen} handed out again (to ${after.publicId}) or out of turn`
      }
    }
    explained.recycled += list.length - 1
    // Generations start at 1: any the log never shows were lent and given back unused.
    explained.unusedGenerations += Math.max(0, list.at(-1)!.gen - list.length)
  }
  if (problem !== null) return { name: 'tokens', ok: false, detail: problem }
  if (byToken.size > s.tokens) {
    return { name: 'tokens', ok: false, detail: `${byToken.size} tokens admitted, only ${s.tokens} were loaded` }
  }
  if (data.stock !== null && byToken.size > data.stock) {
    return { name: 'tokens', ok: false, detail: `${byToken.size} tokens admitted for a stock of ${data.stock}` }
  }
  const stock = data.stock === null ? '' : ` (stock ${data.stock})`
  const recycled = `${plural(explained.recycled, 'admission')} of a token that came back`
  const detail = `${plural(byToken.size, 'token')} used of ${s.tokens} loaded${stock}; ${recycled}`
  return { name: 'tokens', ok: true, detail }
}

function countsCheck(data: PublicFairness): Check {
  const { summary: s } = data
  const admissions = byShard(data.admissions, s.shards)
  for (const [shard, list] of admissions.entries()) {
    const total = data.totals.admissions[shard]
    if (total !== undefined && list.length !== total) {
      const detail = `shard ${shard} lists ${list.length} admissions, its last page says ${total}`
      return { name: 'counts', ok: false, detail }
    }
  }
  for (const counts of s.perShard) {
    if (counts.prequeueJoined > counts.joined) {
      return { name: 'counts', ok: false, detail: `shard ${counts.shard} counts more pre-queue places than places` }
    }
  }
  const startsAt = Date.parse(s.startsAt)
  for (const a of data.admissions) {
    if (a.admittedAt < startsAt) return { name: 'counts', ok: false, detail: `${a.publicId} admitted before the start` }
    if (a.pre !== a.joinedAt < startsAt) {
      const marked = a.pre ? 'pre-queue' : 'first-come'
      return { name: 'counts', ok: false, detail: `${a.publicId}'s place is marked ${marked} against its join time` }
    }
  }
  return { name: 'counts', ok: true, detail: 'every list complete, every entry consistent with the start' }
}

export async function verifyFairness(data: PublicFairness, options: VerifyOptions = {}): Promise<FairnessVerdict> {
  const s = data.summary
  const explained = { tiedJoinTimes: 0, tiedAdmissionTimes: 0, recycled: 0, readmitted: 0, unusedGenerations: 0 }
  const perShard: ShardVerdict[] = []
  const ties = { join: 0, admission: 0 }
  const checks: Check[] = [
    await commitmentCheck(s, options),
    joinsCheck(data),
    await shuffleCheck(data),
    fifoCheck(data, perShard, ties),
    tokensCheck(data, explained),
    countsCheck(data),
  ]
  explained.tiedJoinTimes = ties.join
  explained.tiedAdmissionTimes = ties.admission
  const admittedBy = new Map<string, number>()
  for (const a of data.admissions) admittedBy.set(a.publicId, (admittedBy.get(a.publicId) ?? 0) + 1)
  explained.readmitted = [...admittedBy.values()].filter((n) => n > 1).length
  const taus = perShard.map((p) => p.kendallTau).filter((t): t is number => t !== null)
  return {
    saleId: s.saleId,
    at: s.at,
    startsAt: s.startsAt,
    started: s.started,
    shards: s.shards,
    prequeueOrder: s.prequeueOrder,
    commitment: s.commitment,
    seed: s.seed,
    tokens: s.tokens,
    stock: data.stock,
    joined: s.joined,
    prequeueJoined: s.prequeueJoined,
    admitted: data.admissions.length,
    checks,
    kendallTau: taus.length ? Math.min(...taus) : null,
    perShard,
    explained,
    ok: checks.every((c) => c.ok !== false),
  }
}
