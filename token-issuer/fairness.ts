/**
 * The fairness report (`token-issuer report <sale>`): checks the room's published evidence.
 *
 * - commitment: sha256(revealed seed) equals the commitment published when the pre-queue opened;
 * - shuffle: in every shard, the pre-queue shoppers were admitted in the order their shuffle keys
 *   (recomputed here from the seed and the published join list) give;
 * - Kendall tau-b between queue order (join time) and admission order (admission time) for everyone who
 *   joined after the start (the first-come, first-served part). 1 = admitted exactly in arrival order.
 */
import { createHash } from 'node:crypto'
import { seedCommitment, shuffleKey, type RoomReport } from '../contracts/index.ts'

export interface FairnessReport {
  saleId: string
  shards: number
  startsAt: string
  commitment: string | null
  seed: string | null
  commitmentOk: boolean | null
  shuffleOk: boolean | null
  shuffleDetail: string
  joined: number
  prequeueJoined: number
  admitted: number
  fifoAdmitted: number
  kendallTau: number | null
  /** Who got which token when; shopper ids hashed once more so the log can be published. */
  issuance: Array<{ shopper: string; tid: string; gen: number; shard: number; pre: boolean; joinedAt: string; admittedAt: string }>
}

/** Kendall tau-b of paired observations (ties allowed in either). O(n²): fine for a sale's admissions. */
export function kendallTauB(x: number[], y: number[]): number | null {
  const n = x.length
  if (n < 2) return null
  let concordant = 0
  let discordant = 0
  let tiesX = 0
  let tiesY = 0
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i]! - x[j]!)
      const dy = Math.sign(y[i]! - y[j]!)
      if (dx === 0 && dy === 0) continue
      if (dx === 0) tiesX++
      else if (dy === 0) tiesY++
      else if (dx === dy) concordant++
      else discordant++
    }
  }
  const denominator = Math.sqrt((concordant + discordant + tiesX) * (concordant + discordant + tiesY))
  return denominator === 0 ? null : (concordant - discordant) / denominator
}

const publicId = (shopper: string) => createHash('sha256').update(`floodgate-report:${shopper}`).digest('base64url').slice(0, 16)

export async function fairness(report: RoomReport): Promise<FairnessReport> {
  const commitmentOk = report.seed === null || report.commitment === null ? null : (await seedCommitment(report.seed)) === report.commitment
  let shuffleOk: boolean | null = null
  let shuffleDetail = 'seed not revealed yet'
  if (report.seed !== null) {
    shuffleOk = true
    shuffleDetail = 'every shard admitted its pre-queue in shuffle-key order'
    for (const { shard, shoppers } of report.prequeue) {
      const keys = new Map(await Promise.all(shoppers.map(async (s) => [s, await shuffleKey(report.seed!, s)] as const)))
      const admitted = report.issuance.filter((e) => e.shard === shard && e.pre && e.gen >= 1)
      const firstTime = [...new Map(admitted.map((e) => [e.shopper, e])).values()]
      for (let i = 1; i < firstTime.length; i++) {
        const a = keys.get(firstTime[i - 1]!.shopper)
        const b = keys.get(firstTime[i]!.shopper)
        if (a === undefined || b === undefined || a > b) {
          shuffleOk = false
          shuffleDetail = `shard ${shard}: admission ${i} breaks the shuffle order`
          break
        }
      }
      if (!shuffleOk) break
    }
  }
  const fifo = report.issuance.filter((e) => !e.pre)
  return {
    saleId: report.saleId,
    shards: report.shards,
    startsAt: report.startsAt,
    commitment: report.commitment,
    seed: report.seed,
    commitmentOk,
    shuffleOk,
    shuffleDetail,
    joined: report.joined,
    prequeueJoined: report.prequeue.reduce((n, p) => n + p.shoppers.length, 0),
    admitted: report.admitted,
    fifoAdmitted: fifo.length,
    kendallTau: kendallTauB(
      fifo.map((e) => e.joinedAt),
      fifo.map((e) => e.admittedAt),
    ),
    issuance: [...report.issuance]
      .sort((a, b) => a.admittedAt - b.admittedAt)
      .map((e) => ({
        shopper: publicId(e.shopper),
        tid: e.tid,
        gen: e.gen,
        shard: e.shard,
        pre: e.pre,
        joinedAt: new Date(e.joinedAt).toISOString(),
        admittedAt: new Date(e.admittedAt).toISOString(),
      })),
  }
}
