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
  type TokenOutcome,
} from '../../contracts/index.ts'
import type { AppEnv, Env } from '../env.ts'
import { apiError } from '../http-error.ts'
import { adminAuth } from '../middleware/admin-auth/index.ts'
import { jsonBody } from '../middleware/json-body/index.ts'
import { pathParams } from '../middleware/path-params/index.ts'
import { forgetFrontiers, roomOf, shardOf, tokenShard, unwrap } from '../rooms.ts'

const saleParams = pathParams({ saleId: SaleId })

/** How many shards the sale's room uses (shard 0 knows). */
async function shardCount(env: Env, saleId: string): Promise<number> {
  return unwrap(await roomOf(env, saleId).stats(saleId)).shards ?? 1
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Adds up the shards' stats: one view of the sale's room. */
function sumStats(all: RoomStats[]): RoomStats {
  const [first, ...rest] = all
  const total = { ...first! }
  for (const s of rest) {
    for (const key of ['tokensLoaded', 'available', 'granted', 'redeemed', 'sold', 'queued', 'admitted', 'recycled'] as const) {
      total[key] += s[key]
    }
  }
  return total
}

export const adminRoutes = new Hono<AppEnv>()
  .use('*', adminAuth())
  /** Configures every shard; shard 0 draws the shuffle seed and the others get the same one. */
  .put('/sales/:saleId/room', saleParams, jsonBody({ schema: RoomConfig, maxBytes: MAX_ADMIN_BODY_BYTES }), async (c) => {
    const saleId = c.req.param('saleId')
    const config = c.var.body
    if (config.saleId !== saleId) {
      throw apiError('invalid_body', `saleId in the body (${config.saleId}) must match the path (${saleId})`, 'saleId')
    }
    const first = unwrap(await roomOf(c.env, saleId).configure(config, { shard: 0 }))
    const seed = unwrap(await roomOf(c.env, saleId).shuffleSeed(saleId)) ?? undefined
    await Promise.all(
      range(config.shards - 1).map(async (i) => unwrap(await shardOf(c.env, saleId, i + 1).configure(config, { shard: i + 1, seed }))),
    )
    forgetFrontiers(saleId)
    return c.json(first)
  })
  /** Live steering: rate, max active shoppers, pause / resume / queue-all, applied to every shard. */
  .patch('/sales/:saleId/room', saleParams, jsonBody({ schema: RoomSteer }), async (c) => {
    const saleId = c.req.param('saleId')
    const n = await shardCount(c.env, saleId)
    const all = await Promise.all(range(n).map(async (i) => unwrap(await shardOf(c.env, saleId, i).steer(saleId, c.var.body))))
    forgetFrontiers(saleId)
    return c.json(sumStats(all))
  })
  .get('/sales/:saleId/room', saleParams, async (c) => {
    const saleId = c.req.param('saleId')
    const first = unwrap(await roomOf(c.env, saleId).stats(saleId))
    const rest = await Promise.all(
      range((first.shards ?? 1) - 1).map(async (i) => unwrap(await shardOf(c.env, saleId, i + 1).stats(saleId))),
    )
    return c.json(sumStats([first, ...rest]))
  })
  /** The fairness report's raw material: every shard's commitment, seed, pre-queue join list and issuance log. */
  .get('/sales/:saleId/room/report', saleParams, async (c) => {
    const saleId = c.req.param('saleId')
    const n = await shardCount(c.env, saleId)
    const parts = await Promise.all(range(n).map(async (i) => unwrap(await shardOf(c.env, saleId, i).report(saleId))))
    const report: RoomReport = {
      ...parts[0]!,
      joined: parts.reduce((sum, p) => sum + p.joined, 0),
      admitted: parts.reduce((sum, p) => sum + p.admitted, 0),
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
      if (n === 1) return c.json(unwrap(await roomOf(c.env, saleId).loadTokens(saleId, c.var.body.tokens)))
      const groups: string[][] = range(n).map(() => [])
      for (const [i, token] of c.var.body.tokens.entries()) {
        const payload = peekPurchaseToken(token)
        if (!payload) throw apiError('invalid_body', `tokens.${i}: not a purchase token`, `tokens.${i}`)
        groups[tokenShard(payload.tid, n)]!.push(token)
      }
      // Shards load independently; a bad token was caught above, so all or none in practice.
      const results = await Promise.all(
        groups.map(async (tokens, i): Promise<LoadTokensResponse | null> =>
          tokens.length ? unwrap(await shardOf(c.env, saleId, i).loadTokens(saleId, tokens)) : null,
        ),
      )
      const loaded = results.reduce((sum, r) => sum + (r?.loaded ?? 0), 0)
      const duplicates = results.reduce((sum, r) => sum + (r?.duplicates ?? 0), 0)
      const stats = await Promise.all(range(n).map(async (i) => unwrap(await shardOf(c.env, saleId, i).stats(saleId))))
      return c.json({ saleId, loaded, duplicates, total: stats.reduce((sum, s) => sum + s.tokensLoaded, 0) })
    },
  )
  .post(
    '/sales/:saleId/tokens/outcomes',
    saleParams,
    jsonBody({ schema: TokenOutcomesRequest, maxBytes: MAX_ADMIN_BODY_BYTES }),
    async (c) => {
      const saleId = c.req.param('saleId')
      const n = await shardCount(c.env, saleId)
      const groups: TokenOutcome[][] = range(n).map(() => [])
      for (const outcome of c.var.body.outcomes) groups[tokenShard(outcome.tid, n)]!.push(outcome)
      const results = await Promise.all(
        groups.map(async (outcomes, i) =>
          outcomes.length ? unwrap(await shardOf(c.env, saleId, i).applyOutcomes(saleId, outcomes)).applied : 0,
        ),
      )
      return c.json({ applied: results.reduce((sum, r) => sum + r, 0) })
    },
  )
