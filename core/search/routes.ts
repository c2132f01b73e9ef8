/**
 * Search routes on core, mounted by core/app.ts:
 *   GET /v1/search?q&category&brand&priceMin&priceMax&inStock&sort&cursor&limit   hits, total, facets, did you mean
 *   GET /v1/search/suggest?q=                                                        autocomplete
 *   POST /admin/search/reindex   a full reindex (new index, swap, replay, resync)    (CORE_ADMIN_TOKEN)
 *   POST /admin/search/drain     drain the outbox now, answer once it is empty (tests, benches)
 *   GET  /admin/search/status    engine, index, documents, outbox backlog
 */
import { Hono, type MiddlewareHandler } from 'hono'
import { SearchQuery, SuggestQuery, type SearchStatus } from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'
import { requireBearer } from '../http/bearer.ts'
import type { Catalog } from '../catalog/catalog.ts'
import { readQuery } from '../catalog/routes.ts'
import { engineUnavailable, type SearchEngine } from './engine.ts'
import type { SearchMetrics } from './search-metrics.ts'
import type { SearchSync } from './search-sync.ts'

export interface SearchRoutesDeps {
  engine: SearchEngine
  sync: SearchSync
  catalog: Catalog
  metrics: SearchMetrics
  adminToken: string
  /** Who may call the operator routes: default the static admin token; core passes "it or an operator's". */
  adminAuth?: MiddlewareHandler
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (engineUnavailable(error))
      throw new ApiError('unavailable', 'search is unavailable right now, retry shortly', undefined, {
        'retry-after': '1',
      })
    throw error
  }
}

export function searchRoutes({ engine, sync, catalog, metrics, adminToken, adminAuth }: SearchRoutesDeps): Hono {
  const app = new Hono()
  app.get('/v1/search', async (c) => {
    const query = readQuery(c, SearchQuery)
    const timer = metrics.searchSeconds.startTimer({ engine: engine.name, kind: 'search' })
    try {
      return c.json(await guarded(() => engine.search(query)))
    } finally {
      timer()
    }
  })
  app.get('/v1/search/suggest', async (c) => {
    const { q, limit } = readQuery(c, SuggestQuery)
    const timer = metrics.searchSeconds.startTimer({ engine: engine.name, kind: 'suggest' })
    try {
      return c.json(await guarded(() => engine.suggest(q, limit)))
    } finally {
      timer()
    }
  })

  const admin = new Hono()
  admin.use('*', adminAuth ?? requireBearer(adminToken))
  admin.post('/reindex', async (c) => c.json(await guarded(() => sync.reindex())))
  admin.post('/drain', async (c) => c.json(await guarded(() => sync.drainAll())))
  admin.get('/status', async (c) => {
    const [index, outbox] = await Promise.all([guarded(() => engine.status()), catalog.store.outboxStatus()])
    const status: SearchStatus = {
      engine: engine.name,
      index: index.index,
      documents: index.documents,
      outboxPending: outbox.pending,
      oldestPendingMs: outbox.oldest ? Math.max(0, Date.now() - outbox.oldest.getTime()) : null,
    }
    return c.json(status)
  })
  app.route('/admin/search', admin)
  return app
}
