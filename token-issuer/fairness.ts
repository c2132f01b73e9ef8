/**
 * The fairness report (`token-issuer report <sale>`): the operator runs on the room's admin report the same
 * checks anyone can run on the sale's public proof (fairness/verify.ts, `npm run verify-fairness`):
 *
 * - commitment: sha256(revealed seed) equals the commitment published when the pre-queue opened;
 * - shuffle: in every shard, the pre-queue shoppers were admitted in the order their shuffle keys (recomputed
 *   here from the seed and the published join list, by public id) give;
 * - Kendall tau-b between arrival and admission for everyone who joined after the start (the first-come part),
 *   per shard; the lowest is reported. 1 = admitted exactly in arrival order;
 * - tokens: each admission a distinct generation of one token, no more tokens used than loaded.
 *
 * The admin report comes whole (no pages), so the proof's completeness checks hold by construction here;
 * `verify-fairness` makes them on the public pages.
 */
import { publicTokenRef, type FairnessShardCounts, type RoomReport } from '../contracts/index.ts'
import { verifyFairness, type Check, type PublicFairness } from '../fairness/verify.ts'

export { kendallTauB } from '../fairness/kendall.ts'

export interface FairnessReport {
  saleId: string
  shards: number
  startsAt: string
  commitment: string | null
  seed: string | null
  commitmentOk: boolean | null
  shuffleOk: boolean | null
  shuffleDetail: string
  tokensOk: boolean | null
  tokensDetail: string
  joined: number
  prequeueJoined: number
  admitted: number
  fifoAdmitted: number
  kendallTau: number | null
  /** Every check passed (or had nothing to check yet). */
  ok: boolean
  /** Who got which token when, by public id (as the public proof lists them). */
  issuance: Array<{
    publicId: string
    tid: string
    gen: number
    shard: number
    pre: boolean
    joinedAt: string
    admittedAt: string
  }>
}

/** The admin report in the shape of the public proof. */
export async function publicView(report: RoomReport, now = Date.now()): Promise<PublicFairness> {
  const joins = report.prequeue.flatMap((p) => p.joins)
  const admissions = await Promise.all(
    report.issuance.map(async (e) => ({
      shard: e.shard,
      publicId: e.publicId,
      token: await publicTokenRef(e.tid),
      gen: e.gen,
      pre: e.pre,
      joinedAt: e.joinedAt,
      admittedAt: e.admittedAt,
    })),
  )
  const perShard = Array.from({ length: report.shards }, (_, shard): FairnessShardCounts => {
    const prequeueJoined = joins.filter((j) => j.shard === shard).length
    return {
      shard,
      tokens: shard === 0 ? (report.tokens ?? 0) : 0,
      joined: report.joined,
      prequeueJoined,
      admitted: admissions.filter((a) => a.shard === shard).length,
    }
  })
  const base = `/api/sales/${report.saleId}/fairness`
  const summary = {
    saleId: report.saleId,
    at: now,
    startsAt: report.startsAt,
    started: report.seed !== null || now >= Date.parse(report.startsAt),
    prequeueOrder: report.prequeueOrder ?? 'shuffle',
    shards: report.shards,
    commitment: report.commitment,
    seed: report.seed,
    // Without a count of loaded tokens, every token seen is taken as loaded.
    tokens: report.tokens ?? new Set(admissions.map((a) => a.token)).size,
    joined: report.joined,
    prequeueJoined: joins.length,
    admitted: report.admitted,
    perShard,
    joins: `${base}/joins`,
    admissions: `${base}/admissions`,
  }
  const lengths = (list: Array<{ shard: number }>) =>
    perShard.map((p) => list.filter((e) => e.shard === p.shard).length)
  const totals = { joins: lengths(joins), admissions: lengths(admissions) }
  return { summary, joins, admissions, stock: null, totals }
}

const byName = (checks: Check[], name: Check['name']) => checks.find((c) => c.name === name)!

export async function fairness(report: RoomReport): Promise<FairnessReport> {
  const verdict = await verifyFairness(await publicView(report))
  const shuffle = byName(verdict.checks, 'shuffle')
  const tokens = byName(verdict.checks, 'tokens')
  const commitment = byName(verdict.checks, 'commitment')
  return {
    saleId: report.saleId,
    shards: report.shards,
    startsAt: report.startsAt,
    commitment: report.commitment,
    seed: report.seed,
    commitmentOk: commitment.ok,
    shuffleOk: shuffle.ok,
    shuffleDetail: shuffle.detail,
    tokensOk: tokens.ok,
    tokensDetail: tokens.detail,
    joined: report.joined,
    prequeueJoined: verdict.prequeueJoined,
    admitted: report.admitted,
    fifoAdmitted: report.issuance.filter((e) => !e.pre).length,
    kendallTau: verdict.kendallTau,
    ok: verdict.ok,
    issuance: [...report.issuance]
      .sort((a, b) => a.admittedAt - b.admittedAt)
      .map((e) => ({
        publicId: e.publicId,
        tid: e.tid,
        gen: e.gen,
        shard: e.shard,
        pre: e.pre,
        joinedAt: new Date(e.joinedAt).toISOString(),
        admittedAt: new Date(e.admittedAt).toISOString(),
      })),
  }
}
