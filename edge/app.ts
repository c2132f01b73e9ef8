import { Hono, type ErrorHandler, type NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { accountPage } from './account/page.ts'
import { accountApiRoutes } from './account/routes.ts'
import { catalogApiRoutes, storefrontRoutes } from './catalog/routes.ts'
import type { AppEnv } from './env.ts'
import { errorResponse } from './http-error.ts'
import { serverTiming } from './middleware/server-timing/index.ts'
import { adminRoutes } from './routes/admin.ts'
import { fairnessRoutes } from './routes/fairness.ts'
import { pageRoutes } from './routes/pages.ts'
import { checkedSecrets } from './secrets.ts'
import { shopperRoutes } from './routes/shopper.ts'

/** Every thrown `apiError` becomes its JSON body; anything else is a logged 500 `internal`. */
export const handleError: ErrorHandler = (err) => {
  if (err instanceof HTTPException) return err.getResponse()
  console.error('unhandled edge error', err)
  return errorResponse('internal', 'something went wrong on our side')
}

export const handleNotFound: NotFoundHandler = (c) =>
  errorResponse('not_found', `no route for ${c.req.method} ${c.req.path}`)

/** The edge's HTTP surface. Every error, 404s included, is the shared JSON error body. */
export const app = new Hono<AppEnv>()
  // A deploy without its secrets (or with the published dev ones) must not serve a sale: anyone could sign
  // grants or steer the room with them. Health checks fail too, so the deploy is seen to be broken.
  .use('*', async (c, next) => {
    const problems = checkedSecrets(c.env)
    if (problems.length === 0) return next()
    console.error('edge misconfigured', problems)
    const how = 'set each with `wrangler secret put NAME` (dev values only with FLOODGATE_DEV=true in .dev.vars)'
    return errorResponse('edge_misconfigured', `the edge will not serve: ${problems.join('; ')}; ${how}`)
  })
  .use('*', serverTiming())
  .get('/healthz', (c) => c.json({ ok: true }))
  .route('/api', shopperRoutes)
  .route('/api', fairnessRoutes)
  .route('/admin', adminRoutes)
  .route('/sales', pageRoutes)
  .route('/api', catalogApiRoutes)
  .route('/api', accountApiRoutes)
  .get('/account', () => accountPage())
  .route('/', storefrontRoutes)

app.notFound(handleNotFound)
app.onError(handleError)
