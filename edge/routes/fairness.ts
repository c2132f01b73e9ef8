import { Hono, type Context } from 'hono'
import {
  describeZodError,
  FAIRNESS_PAGE_MAX,
  FairnessPageQuery,
  PublicId,
  SaleId,
  type FairnessAdmission,
  type FairnessJoin,
  type FairnessPlace,
  type FairnessShardPage,
  type FairnessShardSummary,
  type FairnessSummary,
} from '../../contracts/index.ts'
import { shardIndexes } from '../../waiting-room/sharding.ts'
import type { AppEnv, Env } from '../env.ts'
import { apiError } from '../http-error.ts'
import { pathParams } from '../middleware/path-params/index.ts'
import { InstanceCache } from '../public-cache.ts'
import { fanOut, roomOf, shardOf, unwrap, withOtherShards } from '../rooms.ts'

/** How long an edge instance (and any cache on the way) reuses a summary, a place or a list's last page. */
export const FAIRNESS_FRESH_MS = 2_000
/** Response header: `hit` when this instance answered from its cache, `miss` when it asked the room. */
export const HEADER_CACHE = 'x-floodgate-cache'

const FRESH = `public, max-age=${FAIRNESS_FRESH_MS / 1000}`
/** A full page of an append-only list never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable'

const summaries = new InstanceCache<FairnessSummary>(1_000)
const pages = new InstanceCache<FairnessShardPage<FairnessJoin | FairnessAdmission>>(5_000)
const places = new InstanceCache<FairnessPlace | null>(10_000)

const sum = (parts: FairnessShardSummary[], value: (p: FairnessShardSummary) => number) =>
  parts.reduce((n, p) => n + value(p), 0)

/** The shards' parts as one summary. */
function combine(saleId: string, parts: FairnessShardSummary[]): FairnessSummary {
  const first = parts[0]!
  const at = Math.min(...parts.map((p) => p.at))
  const base = `/api/sales/${saleId}/fairness`
  return {
    saleId,
    at,
    startsAt: first.startsAt,
    started: at >= Date.parse(first.startsAt),
    prequeueOrder: first.prequeueOrder,
    shards: first.shards,
    commitment: first.commitment,
    seed: first.seed,
    tokens: sum(parts, (p) => p.tokens),
    joined: sum(parts, (p) => p.joined),
    prequeueJoined: sum(parts, (p) => p.prequeueJoined),
    admitted: sum(parts, (p) => p.admitted),
    perShard: parts.map(({ shard, tokens, joined, prequeueJoined, admitted }) => ({
      shard,
      tokens,
      joined,
      prequeueJoined,
      admitted,
    })),
    joins: `${base}/joins`,
    admissions: `${base}/admissions`,
  }
}

function saleSummary(env: Env, saleId: string) {
  const load = async () => {
    const first = unwrap(await roomOf(env, saleId).fairnessSummary(saleId))
    return combine(saleId, await withOtherShards(env, saleId, first, (room) => room.fairnessSummary(saleId)))
  }
  return summaries.get(saleId, load, () => FAIRNESS_FRESH_MS)
}

function publicJson(c: Context, body: unknown, cacheControl: string, hit: boolean): Response {
  c.header('cache-control', cacheControl)
  c.header(HEADER_CACHE, hit ? 'hit' : 'miss')
  return c.json(body)
}

type List = 'joins' | 'admissions'

/** One page of a list: shard by shard, each in its own order; `next` walks on to the next shard. */
async function listPage(c: Context<AppEnv>, list: List): Promise<Response> {
  const saleId = c.req.param('saleId')!
  const query = FairnessPageQuery.safeParse(c.req.query())
  if (!query.success) {
    const { field, message } = describeZodError(query.error)
    throw apiError('invalid_query', message, field || undefined)
  }
  const limit = query.data.limit ?? FAIRNESS_PAGE_MAX
  const [shard, after] = (query.data.cursor ?? '0.0').split('.').map(Number) as [number, number]
  const { shards } = (await saleSummary(c.env, saleId)).value
  if (shard >= shards) throw apiError('invalid_query', `cursor: this sale has ${shards} shards`, 'cursor')
  const load = async (): Promise<FairnessShardPage<FairnessJoin | FairnessAdmission>> => {
    const room = shardOf(c.env, saleId, shard)
    if (list === 'joins') return unwrap(await room.fairnessJoins(saleId, after, limit))
    return unwrap(await room.fairnessAdmissions(saleId, after, limit))
  }
  const full = (p: FairnessShardPage<unknown>) => p.entries.length === limit
  const key = `${saleId}|${list}|${shard}.${after}|${limit}`
  const { value: page, hit } = await pages.get(key, load, (p) =>
    full(p) ? Number.POSITIVE_INFINITY : FAIRNESS_FRESH_MS,
  )
  const next = full(page) ? `${shard}.${page.last}` : shard + 1 < shards ? `${shard + 1}.0` : null
  const body = { saleId, shard, entries: page.entries, total: full(page) ? null : page.total, next }
  return publicJson(c, body, full(page) ? IMMUTABLE : FRESH, hit)
}

const saleParams = pathParams({ saleId: SaleId })

/**
 * The public fairness proof of a sale (contracts/fairness.ts): no credentials, JSON, `cache-control: public`,
 * each answer cached per edge instance so readers cost O(edge instances) object requests.
 *
 *   GET /api/sales/:saleId/fairness                       summary: commitment, seed once revealed, counts
 *   GET /api/sales/:saleId/fairness/joins?cursor=&limit=  the pre-queue join list
 *   GET /api/sales/:saleId/fairness/admissions?cursor=&limit=  the admission log
 *   GET /api/sales/:saleId/fairness/places/:publicId      one shopper's place, and why
 */
export const fairnessRoutes = new Hono<AppEnv>()
  .get('/sales/:saleId/fairness', saleParams, async (c) => {
    const { value, hit } = await saleSummary(c.env, c.req.param('saleId'))
    return publicJson(c, value, FRESH, hit)
  })
  .get('/sales/:saleId/fairness/joins', saleParams, (c) => listPage(c, 'joins'))
  .get('/sales/:saleId/fairness/admissions', saleParams, (c) => listPage(c, 'admissions'))
  .get('/sales/:saleId/fairness/places/:publicId', pathParams({ saleId: SaleId, publicId: PublicId }), async (c) => {
    const saleId = c.req.param('saleId')
    const publicId = c.req.param('publicId')
    const { shards } = (await saleSummary(c.env, saleId)).value
    const load = async () => {
      const all = await fanOut(c.env, saleId, shardIndexes(shards), (room) => room.fairnessPlace(saleId, publicId))
      return all.find((p) => p !== null) ?? null
    }
    const { value, hit } = await places.get(`${saleId}|${publicId}`, load, () => FAIRNESS_FRESH_MS)
    if (!value) throw apiError('not_found', `nobody holds a place with public id ${publicId} in sale ${saleId}`)
    return publicJson(c, value, FRESH, hit)
  })
