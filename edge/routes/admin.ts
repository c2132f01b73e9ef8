import { Hono } from 'hono'
import {
  LoadTokensRequest,
  MAX_ADMIN_BODY_BYTES,
  RoomConfig,
  SaleId,
  TokenOutcomesRequest,
} from '../../contracts/index.ts'
import type { AppEnv } from '../env.ts'
import { apiError } from '../http-error.ts'
import { adminAuth } from '../middleware/admin-auth/index.ts'
import { jsonBody } from '../middleware/json-body/index.ts'
import { pathParams } from '../middleware/path-params/index.ts'
import { roomOf, unwrap } from '../rooms.ts'

const saleParams = pathParams({ saleId: SaleId })

export const adminRoutes = new Hono<AppEnv>()
  .use('*', adminAuth())
  .put('/sales/:saleId/room', saleParams, jsonBody({ schema: RoomConfig, maxBytes: MAX_ADMIN_BODY_BYTES }), async (c) => {
    const saleId = c.req.param('saleId')
    if (c.var.body.saleId !== saleId) {
      throw apiError('invalid_body', `saleId in the body (${c.var.body.saleId}) must match the path (${saleId})`, 'saleId')
    }
    return c.json(unwrap(await roomOf(c.env, saleId).configure(c.var.body)))
  })
  .get('/sales/:saleId/room', saleParams, async (c) => {
    const saleId = c.req.param('saleId')
    return c.json(unwrap(await roomOf(c.env, saleId).stats(saleId)))
  })
  .post(
    '/sales/:saleId/tokens',
    saleParams,
    jsonBody({ schema: LoadTokensRequest, maxBytes: MAX_ADMIN_BODY_BYTES }),
    async (c) => {
      const saleId = c.req.param('saleId')
      return c.json(unwrap(await roomOf(c.env, saleId).loadTokens(saleId, c.var.body.tokens)))
    },
  )
  .post(
    '/sales/:saleId/tokens/outcomes',
    saleParams,
    jsonBody({ schema: TokenOutcomesRequest, maxBytes: MAX_ADMIN_BODY_BYTES }),
    async (c) => {
      const saleId = c.req.param('saleId')
      return c.json(unwrap(await roomOf(c.env, saleId).applyOutcomes(saleId, c.var.body.outcomes)))
    },
  )
