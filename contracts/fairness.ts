/**
 * The public proof of a sale's line order (`GET /api/sales/:saleId/fairness...` at the edge, no credentials):
 * anyone can check it with the commitment, the revealed seed and the published lists alone.
 *
 * - A shopper's public id is HMAC(edge secret, sale ":" shopper), 16 base64url chars: stable for one shopper
 *   in one sale, unlinkable to their session or shopper id without the secret, and different in every sale.
 *   The shopper learns theirs from join and status answers (`publicId`).
 * - A pre-queue place is ordered by `shuffleKey(seed, publicId)`, over the published id, so the published join
 *   list and the seed (whose sha256, the commitment, is published when the pre-queue opens) give the order.
 * - Tokens appear as `publicTokenRef(tid)`: one opaque name per token, enough to see each token's generations.
 *
 * Web Crypto only (through `tokenCrypto`), so the verifier runs anywhere.
 */
import { z } from 'zod'
import { SaleId } from './ids.ts'
import { base64urlEncode, tokenCrypto } from './token.ts'

export const PUBLIC_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/
export const PublicId = z.string().regex(PUBLIC_ID_PATTERN, 'must be 16 base64url chars')
export type PublicId = z.infer<typeof PublicId>

/** Public ids get their own key, derived from the edge secret, so no other artefact's MAC can pass as one. */
const publicIdKey = (secret: string) => `floodgate-public-id:${secret}`

/** The shopper's public id in this sale (see the top of this file). */
export async function publicIdOf(secret: string, saleId: string, shopper: string): Promise<string> {
  const mac = await tokenCrypto().hmacSha256(publicIdKey(secret), `${saleId}:${shopper}`)
  return base64urlEncode(mac).slice(0, 16)
}

/** The name a token goes by in the public admission log. */
export async function publicTokenRef(tid: string): Promise<string> {
  return base64urlEncode(await tokenCrypto().sha256(`floodgate-public-token:${tid}`)).slice(0, 16)
}

/** Largest page of a public list. */
export const FAIRNESS_PAGE_MAX = 1000

/** Where a list page starts: `<shard>.<after>` (after the entry with that seq or log id; 0 = from the start). */
export const FairnessCursor = z.string().regex(/^\d{1,2}\.\d{1,15}$/, 'must be a cursor from a previous page')

export const FairnessPageQuery = z
  .object({
    cursor: FairnessCursor.optional(),
    limit: z.coerce.number().int().min(1).max(FAIRNESS_PAGE_MAX).optional(),
  })
  .strict()
export type FairnessPageQuery = z.infer<typeof FairnessPageQuery>

const PrequeueOrder = z.enum(['shuffle', 'fifo'])

/** A shard's counts, as of `at`. */
export const FairnessShardCounts = z.object({
  shard: z.number().int(),
  /** Tokens loaded into the shard (its share of the sale's units). */
  tokens: z.number().int(),
  /** Places ever taken in the shard (seq of the last one). */
  joined: z.number().int(),
  prequeueJoined: z.number().int(),
  /** Entries in the shard's admission log. */
  admitted: z.number().int(),
})
export type FairnessShardCounts = z.infer<typeof FairnessShardCounts>

/** One shard's part of the summary, as the room answers it (the edge adds the shards up). */
export const FairnessShardSummary = FairnessShardCounts.extend({
  saleId: SaleId,
  shards: z.number().int(),
  at: z.number().int(),
  startsAt: z.string(),
  prequeueOrder: PrequeueOrder,
  commitment: z.string().nullable(),
  seed: z.string().nullable(),
})
export type FairnessShardSummary = z.infer<typeof FairnessShardSummary>

/** `GET /api/sales/:saleId/fairness`. */
export const FairnessSummary = z.object({
  saleId: SaleId,
  /** When the shards were read (the edge caches this for a moment). */
  at: z.number().int(),
  startsAt: z.string(),
  started: z.boolean(),
  prequeueOrder: PrequeueOrder,
  shards: z.number().int(),
  /** sha256(seed), hex: published from the moment the room is configured, before anyone joins. */
  commitment: z.string().nullable(),
  /** Revealed at the start; null before. */
  seed: z.string().nullable(),
  tokens: z.number().int(),
  joined: z.number().int(),
  prequeueJoined: z.number().int(),
  admitted: z.number().int(),
  perShard: z.array(FairnessShardCounts),
  /** First pages of the two lists; follow each page's `next`. */
  joins: z.string(),
  admissions: z.string(),
})
export type FairnessSummary = z.infer<typeof FairnessSummary>

/** A place taken during the pre-queue: the shuffle's input. */
export const FairnessJoin = z.object({
  shard: z.number().int(),
  publicId: PublicId,
  seq: z.number().int(),
  joinedAt: z.number().int(),
})
export type FairnessJoin = z.infer<typeof FairnessJoin>

/** One admission: a token generation handed to a shopper. */
export const FairnessAdmission = z.object({
  shard: z.number().int(),
  publicId: PublicId,
  token: z.string(),
  gen: z.number().int(),
  /** The place was taken during the pre-queue (ordered by the shuffle), else first come, first served. */
  pre: z.boolean(),
  joinedAt: z.number().int(),
  admittedAt: z.number().int(),
})
export type FairnessAdmission = z.infer<typeof FairnessAdmission>

/**
 * The room's answer for one page of one shard's list: the entries, the key of the last one, and how long the
 * list was at that moment (read with the entries, so the two always agree).
 */
export type FairnessShardPage<T> = { entries: T[]; last: number; total: number }

const page = <T extends z.ZodType>(entry: T) =>
  z.object({
    saleId: SaleId,
    shard: z.number().int(),
    entries: z.array(entry),
    /**
     * On the shard's last page (not full): how many entries the shard's list held when this page was read, so
     * a reader can tell they have all of it. Null on full pages, which never change.
     */
    total: z.number().int().nullable(),
    /** Cursor of the next page; null after the last shard's last entry as of now. */
    next: FairnessCursor.nullable(),
  })

/** `GET /api/sales/:saleId/fairness/joins?cursor=&limit=`: pre-queue places, shard by shard, in join order. */
export const FairnessJoinsPage = page(FairnessJoin)
export type FairnessJoinsPage = z.infer<typeof FairnessJoinsPage>
/** `GET /api/sales/:saleId/fairness/admissions?cursor=&limit=`: admissions, shard by shard, in log order. */
export const FairnessAdmissionsPage = page(FairnessAdmission)
export type FairnessAdmissionsPage = z.infer<typeof FairnessAdmissionsPage>

/** `GET /api/sales/:saleId/fairness/places/:publicId`: one shopper's place, and why it is where it is. */
export const FairnessPlace = z.object({
  saleId: SaleId,
  publicId: PublicId,
  shard: z.number().int(),
  shards: z.number().int(),
  startsAt: z.string(),
  prequeueOrder: PrequeueOrder,
  commitment: z.string().nullable(),
  seed: z.string().nullable(),
  /** The shopper's current place in the shard (the latest, if they joined again after a lapsed grant). */
  place: z.object({ seq: z.number().int(), pre: z.boolean(), joinedAt: z.number().int() }).nullable(),
  /**
   * Their pre-queue place in the draw, once the seed is revealed: `key` = shuffleKey(seed, publicId), `rank` =
   * 1 + the pre-queue places of the shard with a smaller key (join order, for a fifo pre-queue), of `of`.
   */
  draw: z
    .object({ joinedAt: z.number().int(), key: z.number().nullable(), rank: z.number().int(), of: z.number().int() })
    .nullable(),
  /** Pre-queue places in the shard (they all come before the first-come ones). */
  prequeueJoined: z.number().int(),
  admissions: z.array(z.object({ gen: z.number().int(), admittedAt: z.number().int() })),
})
export type FairnessPlace = z.infer<typeof FairnessPlace>
