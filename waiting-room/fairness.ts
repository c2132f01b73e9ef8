/**
 * This shard's part of the public fairness proof (contracts/fairness.ts): its counts, its pre-queue join list
 * and its admission log, page by page, and one shopper's place. Nothing here names a shopper id or a token id:
 * shoppers appear by public id, tokens by `publicTokenRef`. The shuffle keys stay inside until the seed is
 * revealed at the start.
 */
import {
  publicIdOf,
  publicTokenRef,
  type FairnessAdmission,
  type FairnessJoin,
  type FairnessPlace,
  type FairnessShardPage,
  type FairnessShardSummary,
} from '../contracts/index.ts'
import { revealedSeed, saleHeader } from './snapshots.ts'
import type { Config, RoomStore } from './store.ts'

export function summary(store: RoomStore, config: Config, now: number): FairnessShardSummary {
  return {
    ...saleHeader(store, config, now),
    shard: store.room().shard,
    at: now,
    prequeueJoined: store.count(`SELECT COUNT(*) AS c FROM prequeue_joins`),
    admitted: store.count(`SELECT COUNT(*) AS c FROM issuance`),
  }
}

/** Pre-queue places after seq `after`, in join order. Public from the moment the pre-queue opens. */
export function joinsPage(store: RoomStore, after: number, limit: number): FairnessShardPage<FairnessJoin> {
  const shard = store.room().shard
  const rows = store.rows<{ seq: number; public_id: string; joined_at: number }>(
    `SELECT seq, public_id, joined_at FROM prequeue_joins WHERE seq > ? ORDER BY seq LIMIT ?`,
    after,
    limit,
  )
  return {
    entries: rows.map((r) => ({ shard, publicId: r.public_id, seq: r.seq, joinedAt: r.joined_at })),
    last: rows.at(-1)?.seq ?? after,
    total: store.count(`SELECT COUNT(*) AS c FROM prequeue_joins`),
  }
}

type IssuanceRow = {
  id: number
  public_id: string
  tid: string
  gen: number
  pre: number
  joined_at: number
  admitted_at: number
}

/** Admissions after log id `after`, in the order they happened. */
export async function admissionsPage(
  store: RoomStore,
  after: number,
  limit: number,
): Promise<FairnessShardPage<FairnessAdmission>> {
  const shard = store.room().shard
  const rows = store.rows<IssuanceRow>(
    `SELECT id, public_id, tid, gen, pre, joined_at, admitted_at FROM issuance WHERE id > ? ORDER BY id LIMIT ?`,
    after,
    limit,
  )
  // Read with the rows, before any await: the two agree.
  const total = store.count(`SELECT COUNT(*) AS c FROM issuance`)
  const entries = await Promise.all(
    rows.map(
      async (r): Promise<FairnessAdmission> => ({
        shard,
        publicId: r.public_id,
        token: await publicTokenRef(r.tid),
        gen: r.gen,
        pre: r.pre === 1,
        joinedAt: r.joined_at,
        admittedAt: r.admitted_at,
      }),
    ),
  )
  return { entries, last: rows.at(-1)?.id ?? after, total }
}

/** One shopper's place in this shard, by public id; null when they hold none here. */
export function place(store: RoomStore, config: Config, publicId: string, now: number): FairnessPlace | null {
  const current = store.rows<{ seq: number; pre: number; joined_at: number }>(
    `SELECT seq, pre, joined_at FROM queue WHERE public_id = ?`,
    publicId,
  )[0]
  const joined = store.rows<{ seq: number; joined_at: number; key: number | null }>(
    `SELECT seq, joined_at, key FROM prequeue_joins WHERE public_id = ? ORDER BY seq DESC LIMIT 1`,
    publicId,
  )[0]
  if (!current && !joined) return null
  const room = store.room()
  const seed = revealedSeed(room, config, now)
  const of = store.count(`SELECT COUNT(*) AS c FROM prequeue_joins`)
  let draw: FairnessPlace['draw'] = null
  if (joined && seed !== null) {
    const key = config.prequeueOrder === 'shuffle' ? joined.key : null
    const before =
      key === null
        ? store.count(`SELECT COUNT(*) AS c FROM prequeue_joins WHERE seq < ?`, joined.seq)
        : store.count(`SELECT COUNT(*) AS c FROM prequeue_joins WHERE key < ?`, key)
    draw = { joinedAt: joined.joined_at, key, rank: before + 1, of }
  }
  const admissions = store
    .rows<{ gen: number; admitted_at: number }>(
      `SELECT gen, admitted_at FROM issuance WHERE public_id = ? ORDER BY id`,
      publicId,
    )
    .map((r) => ({ gen: r.gen, admittedAt: r.admitted_at }))
  return {
    saleId: config.saleId,
    publicId,
    shard: room.shard,
    shards: config.shards,
    startsAt: new Date(config.startsAt).toISOString(),
    prequeueOrder: config.prequeueOrder,
    commitment: room.commitment,
    seed,
    place: current ? { seq: current.seq, pre: current.pre === 1, joinedAt: current.joined_at } : null,
    draw,
    prequeueJoined: of,
    admissions,
  }
}

/**
 * Gives rows written before public ids existed (an object upgraded by migration 3 mid-sale) their public id.
 * Their pre-queue places were drawn with the old key (over the shopper id), which the public proof cannot
 * confirm; new places are drawn over the public id.
 */
export async function backfillPublicIds(store: RoomStore, secret: string): Promise<void> {
  const saleId = store.room().sale_id
  if (saleId === null) return
  const missing = store.rows<{ shopper: string }>(
    `SELECT shopper FROM queue WHERE public_id IS NULL
     UNION SELECT shopper FROM issuance WHERE public_id IS NULL
     UNION SELECT shopper FROM prequeue_joins WHERE public_id IS NULL`,
  )
  if (missing.length === 0) return
  const ids = await Promise.all(
    missing.map(async ({ shopper }) => [shopper, await publicIdOf(secret, saleId, shopper)] as const),
  )
  store.tx(() => {
    for (const [shopper, id] of ids) {
      store.exec(`UPDATE queue SET public_id = ? WHERE shopper = ? AND public_id IS NULL`, id, shopper)
      store.exec(`UPDATE issuance SET public_id = ? WHERE shopper = ? AND public_id IS NULL`, id, shopper)
      store.exec(`UPDATE prequeue_joins SET public_id = ? WHERE shopper = ? AND public_id IS NULL`, id, shopper)
    }
  })
}
