/**
 * Wiring of the store around the drop for core's composition root: the catalog (Postgres + its Redis copies),
 * the search engine chosen by SEARCH_ENGINE, the outbox drain job, and their routes.
 */
import type { Hono, MiddlewareHandler } from 'hono'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { Catalog } from '../catalog/catalog.ts'
import { CatalogMetrics } from '../catalog/catalog-metrics.ts'
import { catalogRoutes } from '../catalog/routes.ts'
import type { CoreConfig } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { ElasticsearchEngine } from './elasticsearch-engine.ts'
import type { SearchEngine } from './engine.ts'
import { PostgresSearchEngine } from './postgres-engine.ts'
import { searchRoutes } from './routes.ts'
import { SearchMetrics } from './search-metrics.ts'
import { SearchSync } from './search-sync.ts'

export type StorefrontConfig = Pick<
  CoreConfig,
  | 'SEARCH_ENGINE'
  | 'ES_URL'
  | 'ES_API_KEY'
  | 'ES_INDEX'
  | 'SEARCH_SYNC_INTERVAL_MS'
  | 'REDIS_PREFIX'
  | 'CORE_ADMIN_TOKEN'
>

export interface Storefront {
  catalog: Catalog
  engine: SearchEngine
  sync: SearchSync
  routes: Hono[]
  /** The outbox drain worker (processes with workers: ROLE=worker or all). */
  startWorkers(): Promise<void>
  close(): Promise<void>
}

export function createSearchEngine(config: StorefrontConfig, db: pg.Pool, logger: Logger): SearchEngine {
  if (config.SEARCH_ENGINE === 'elasticsearch') {
    return new ElasticsearchEngine({ node: config.ES_URL!, apiKey: config.ES_API_KEY, alias: config.ES_INDEX, logger })
  }
  return new PostgresSearchEngine(db)
}

export async function createStorefront(deps: {
  config: StorefrontConfig
  db: pg.Pool
  redis: Redis
  metrics: Metrics
  logger: Logger
  engine?: SearchEngine
  /** Who may call the operator routes (default: CORE_ADMIN_TOKEN only). */
  adminAuth?: MiddlewareHandler
}): Promise<Storefront> {
  const { config, db, redis, logger } = deps
  const engine = deps.engine ?? createSearchEngine(config, db, logger)
  // An unreachable Elasticsearch must not keep core from starting: search answers 503 until it is back.
  await engine
    .ensureReady()
    .catch((err) => logger.warn({ err: (err as Error).message, engine: engine.name }, 'search engine not ready'))
  const searchMetrics = new SearchMetrics(deps.metrics.registry)
  let sync: SearchSync | undefined
  const catalog = new Catalog({ db, redis, prefix: config.REDIS_PREFIX, logger, onQueued: () => sync?.kick() })
  sync = new SearchSync({
    redis,
    prefix: `${config.REDIS_PREFIX}:bull`,
    catalog,
    engine,
    metrics: searchMetrics,
    logger,
    intervalMs: config.SEARCH_SYNC_INTERVAL_MS,
  })
  const routes = [
    catalogRoutes({
      catalog,
      metrics: new CatalogMetrics(deps.metrics.registry),
      adminToken: config.CORE_ADMIN_TOKEN,
      adminAuth: deps.adminAuth,
    }),
    searchRoutes({
      engine,
      sync,
      catalog,
      metrics: searchMetrics,
      adminToken: config.CORE_ADMIN_TOKEN,
      adminAuth: deps.adminAuth,
    }),
  ]
  let closing: Promise<void> | undefined
  const started = sync
  return {
    catalog,
    engine,
    sync: started,
    routes,
    startWorkers: () => started.start(),
    close: () =>
      (closing ??= (async () => {
        await started.close()
        await engine.close()
      })()),
  }
}
