/**
 * What the room tells a shopper about their own place: admitted (token + grant), expired, sold out, or in line
 * (position.ts, the same function the edge answers with).
 */
import { signGrant, type RoomStatus } from '../contracts/index.ts'
import { soldOut } from './pool.ts'
import { position, settled } from './position.ts'
import type { Config, RoomStore } from './store.ts'

/** Signs (and stores) the grant on first read; signing is deterministic, so every read gets the same grant. */
export async function describe(
  store: RoomStore,
  config: Config,
  shopper: string,
  now: number,
  grantSecret: string,
): Promise<RoomStatus> {
  const row = store.queueRow(shopper)
  const counts = store.tokenCounts()
  const unitsLeft = counts.loaded - counts.sold
  const publicId = row?.public_id ?? undefined
  if (row?.state === 'admitted' && row.tid !== null && row.gen !== null && row.grant_exp !== null) {
    const token = row.token ?? store.one<{ token: string }>(`SELECT token FROM tokens WHERE tid = ?`, row.tid).token
    let grant = row.grant
    if (grant === null) {
      grant = await signGrant(
        { sale: config.saleId, tid: row.tid, gen: row.gen, sub: shopper, iat: row.grant_iat ?? 0, exp: row.grant_exp },
        grantSecret,
      )
      store.exec(`UPDATE queue SET "grant" = ? WHERE seq = ? AND gen = ? AND "grant" IS NULL`, grant, row.seq, row.gen)
    }
    return { ...settled(config.saleId, 'admitted', unitsLeft, publicId), token, grant, grantExpiresAt: row.grant_exp }
  }
  if (!row || soldOut(store)) return settled(config.saleId, 'sold_out', unitsLeft, publicId)
  if (row.state === 'expired') return settled(config.saleId, 'expired', unitsLeft, publicId)
  // The pre-queue order is drawn at the start; telling it early would let one person keep only their luckiest
  // sessions.
  const secret = now < config.startsAt && row.pre === 1 && config.prequeueOrder === 'shuffle'
  const aheadHere = secret
    ? null
    : store.count(
        // Two index range counts: an OR across both would make SQLite scan every waiting row.
        `SELECT (SELECT COUNT(*) FROM queue WHERE state = 'waiting' AND ord < ?)
              + (SELECT COUNT(*) FROM queue WHERE state = 'waiting' AND ord = ? AND seq < ?) AS c`,
        row.ord ?? 0,
        row.ord ?? 0,
        row.seq,
      )
  return position({
    saleId: config.saleId,
    now,
    startsAt: config.startsAt,
    admitPerMinute: config.admitPerMinute,
    shards: config.shards,
    mode: config.mode,
    aheadHere,
    unitsLeft,
    // This shard's own pool: it cannot see its siblings' (which lend it what their lines do not need).
    unitFree: counts.available > 0,
    publicId,
  })
}
