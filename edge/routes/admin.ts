import { Hono } from 'hono'
import {
  LoadTokensRequest,
  MAX_ADMIN_BODY_BYTES,
  peekPurchaseToken,
  RoomConfig,
  RoomSteer,
  SaleId,
  TokenOutcomesRequest,
  type LoadTokensResponse,
  type RoomReport,
  type RoomStats,
} from '../../contracts/index.ts'
import { ok, type RoomResult } from '../../waiting-room/results.ts'
import { byTokenShard, shardIndexes } from '../../waiting-room/sharding.ts'
import type { AppEnv, Env } from '../env.ts'
import { apiError } from '../http-error.ts'
import { adminAuth } from '../middleware/admin-auth/index.ts'
import { jsonBody } from '../middleware/json-body/index.ts'
import { pathParams } from '../middleware/path-params/index.ts'
import { fanOut, forgetFrontiers, roomOf, unwrap, withOtherShards, type RoomStub } from '../rooms.ts'

const saleParams = pathParams({ saleId: SaleId })

/** How many shards the sale's room uses (shard 0 knows). */
async function shardCount(env: Env, saleId: string): Promise<number> {
  return unwrap(await roomOf(env, saleId).stats(saleId)).shards ?? 1
}

/** What the operator sees of a room nobody has configured yet. */
function unconfiguredStats(saleId: string): RoomStats {
  return {
    saleId,
    configured: false,
    tokensLoaded: 0,
    available: 0,
    granted: 0,
    redeemed: 0,
    sold: 0,
    queued: 0,
    admitted: 0,
    recycled: 0,
    shards: 1,
    mode: 'open',
    admitPerMinute: null,
    maxActive: null,
    commitment: null,
    seed: null,
  }
}

const COUNTED = ['tokensLoaded', 'available', 'granted', 'redeemed', 'sold', 'queued', 'admitted', 'recycled'] as const

/** Adds up the shards' stats: one view of the sale's room. */
function sumStats(all: RoomStats[]): RoomStats {
  const [first, ...rest] = all
  const total = { ...first! }
  for (const s of rest) for (const key of COUNTED) total[key] += s[key]
  return total
}

const sum = <T>(all: T[], value: (t: T) => number) => all.reduce((n, t) => n + value(t), 0)

export const adminRoutes = new Hono<AppEnv>()
  .use('*', adminAuth())
  /** Configures every shard; shard 0 draws the shuffle seed and the others get the same one. */
  .put(
    '/sales/:saleId/room',
    saleParams,
    jsonBody({ schema: RoomConfig, maxBytes: MAX_ADMIN_BODY_BYTES }),
    async (c) => {
      const saleId = c.req.param('saleId')
      const config = c.var.body
      if (config.saleId !== saleId) {
        const message = `saleId in the body (${config.saleId}) must match the path (${saleId})`
        throw apiError('invalid_body', message, 'saleId')
      }
      const first = unwrap(await roomOf(c.env, saleId).configure(config, { shard: 0 }))
      const seed = unwrap(await roomOf(c.env, saleId).shuffleSeed(saleId)) ?? undefined
      await fanOut(c.env, saleId, shardIndexes(config.shards).slice(1), (room, shard) =>
        room.configure(config, { shard, seed }),
      )
      forgetFrontiers(saleId)
      return c.json(first)
    },
  )
  /** Live steering: rate, max active shoppers, pause / resume / queue-all, applied to every shard. */
  .patch('/sales/:saleId/room', saleParams, jsonBody({ schema: RoomSteer }), async (c) => {
    const saleId = c.req.param('saleId')
    const shards = shardIndexes(await shardCount(c.env, saleId))
    const all = await fanOut(c.env, saleId, shards, (room) => room.steer(saleId, c.var.body))
    forgetFrontiers(saleId)
    return c.json(sumStats(all))
  })
  .get('/sales/:saleId/room', saleParams, async (c) => {
    const saleId = c.req.param('saleId')
    const first = await roomOf(c.env, saleId).stats(saleId)
    if (!first.ok && first.error.code === 'room_not_configured') return c.json(unconfiguredStats(saleId))
    return c.json(sumStats(await withOtherShards(c.env, saleId, unwrap(first), (room) => room.stats(saleId))))
  })
  /** The fairness report's raw material: every shard's commitment, seed, pre-queue join list and issuance log. */
  .get('/sales/:saleId/room/report', saleParams, async (c) => {
    const saleId = c.req.param('saleId')
    const shards = shardIndexes(await shardCount(c.env, saleId))
    const parts = await fanOut(c.env, saleId, shards, (room) => room.report(saleId))
    const report: RoomReport = {
      ...parts[0]!,
      joined: sum(parts, (p) => p.joined),
      admitted: sum(parts, (p) => p.admitted),
      prequeue: parts.flatMap((p) => p.prequeue),
      issuance: parts.flatMap((p) => p.issuance),
    }
    return c.json(report)
  })
  /** Splits a batch over the shards by token id (stable: a reloaded token lands on the same shard). */
  .post(
    '/sales/:saleId/tokens',
    saleParams,
    jsonBody({ schema: LoadTokensRequest, maxBytes: MAX_ADMIN_BODY_BYTES }),
    async (c) => {
      const saleId = c.req.param('saleId')
      const n = await shardCount(c.env, saleId)
      // Every token is read before any shard loads one: a bad token anywhere stores nothing anywhere.
      const tids = c.var.body.tokens.map((token, i) => {
        const payload = peekPurchaseToken(token)
        if (!payload) throw apiError('invalid_body', `tokens.${i}: not a purchase token`, `tokens.${i}`)
        if (payload.sale !== saleId) {
          throw apiError('invalid_body', `tokens.${i}: token is for sale ${payload.sale}, not ${saleId}`, `tokens.${i}`)
        }
        return payload.tid
      })
      const groups = byTokenShard(c.var.body.tokens, (_token, i) => tids[i]!, n)
      const load = async (room: RoomStub, shard: number): Promise<RoomResult<LoadTokensResponse>> => {
        const tokens = groups[shard]!
        if (tokens.length) return room.loadTokens(saleId, tokens)
        const stats = await room.stats(saleId)
        return stats.ok ? ok({ saleId, loaded: 0, duplicates: 0, total: stats.value.tokensLoaded }) : stats
      }
      const results = await fanOut(c.env, saleId, shardIndexes(n), load)
      const loaded: LoadTokensResponse = {
        saleId,
        loaded: sum(results, (r) => r.loaded),
        duplicates: sum(results, (r) => r.duplicates),
        total: sum(results, (r) => r.total),
      }
      return c.json(loaded)
    },
  )
  .post(
    '/sales/:saleId/tokens/outcomes',
    saleParams,
    jsonBody({ schema: TokenOutcomesRequest, maxBytes: MAX_ADMIN_BODY_BYTES }),
    async (c) => {
      const saleId = c.req.param('saleId')
      const n = await shardCount(c.env, saleId)
      const groups = byTokenShard(c.var.body.outcomes, (outcome) => outcome.tid, n)
      const results = await fanOut(c.env, saleId, shardIndexes(n), async (room, shard) => {
        const outcomes = groups[shard]!
        return outcomes.length ? room.applyOutcomes(saleId, outcomes) : ok({ applied: 0 })
      })
      return c.json({ applied: sum(results, (r) => r.applied) })
    },
  )
