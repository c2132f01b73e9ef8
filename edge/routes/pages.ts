import { Hono, type Context } from 'hono'
import { SaleId } from '../../contracts/index.ts'
import type { AppEnv } from '../env.ts'
import { pathParams } from '../middleware/path-params/index.ts'
import { noStore } from '../middleware/no-store/index.ts'
import { session } from '../middleware/session/index.ts'
import { waitingPage } from '../pages/waiting-page.ts'
import { shopperNetworkLimit, statusResponse } from './shopper.ts'

/** An app asking for JSON (and not for HTML) gets the shopper's status instead of the page. */
function wantsJson(c: Context): boolean {
  const accept = (c.req.header('accept') ?? '').toLowerCase()
  return accept.includes('application/json') && !accept.includes('text/html')
}

const saleParams = pathParams({ saleId: SaleId })

/**
 * `GET /sales/:saleId` (and `/sales/:saleId/wait`): the waiting page (see `pages/waiting-page.ts`). With
 * `Accept: application/json` the same address answers like `GET /api/sales/:saleId/status` (session and
 * ticket from the headers or cookies, `?waitMs=` holds). A bad sale id is a 400 JSON error either way.
 */
export const pageRoutes = new Hono<AppEnv>()
for (const path of ['/:saleId', '/:saleId/wait']) {
  pageRoutes.get(
    path,
    saleParams,
    async (c, next) => {
      if (!wantsJson(c)) return waitingPage(c.req.param('saleId')!)
      await next()
    },
    noStore(),
    shopperNetworkLimit,
    session(),
    (c) => statusResponse(c, c.req.param('saleId')!),
  )
}
