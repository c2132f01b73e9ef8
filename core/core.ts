import { serve, type ServerType } from '@hono/node-server'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { CheckoutDeps } from './checkout/deps.ts'
import { createApp } from './app.ts'
import type { CoreConfig } from './config.ts'
import { migrate } from './db/migrate.ts'
import { Jobs } from './jobs/jobs.ts'
import { startWorkers } from './jobs/workers.ts'
import { createLogger, type Logger } from './logger.ts'
import { Metrics } from './metrics.ts'
import { OrderSettledFeed } from './order/order-settled-feed.ts'
import { Orders } from './order/orders.ts'
import type { PaymentGateway } from './payment/gateway.ts'
import { SimulatedGateway } from './payment/simulated-gateway.ts'
import { Redeemer } from './redeem/redeem.ts'
import { Scripts } from './redis/scripts.ts'
import { RoomReporter } from './room/room-reporter.ts'
import { SagaStore } from './saga/saga.ts'
import { Sales } from './sale/sales.ts'

export interface Core {
  config: CoreConfig
  app: ReturnType<typeof createApp>
  server?: ServerType
  /** Base URL of the HTTP server, when one was started. */
  url?: string
  redis: Redis
  db: pg.Pool
  scripts: Scripts
  sales: Sales
  jobs: Jobs
  gateway: PaymentGateway
  metrics: Metrics
  logger: Logger
  close(): Promise<void>
}

export interface StartOptions {
  /** Replace the gateway chosen by configuration (tests). */
  gateway?: PaymentGateway
  logger?: Logger
  /** Start the HTTP server (default: unless ROLE=worker). */
  listen?: boolean
}

export function createGateway(config: CoreConfig): PaymentGateway {
  return new SimulatedGateway({ latencyMs: config.SIM_PAYMENT_LATENCY_MS, failureRate: config.SIM_PAYMENT_FAILURE_RATE })
}

/** Wires core from its configuration: Redis, Postgres (migrated), the HTTP API and/or the workers. */
export async function startCore(config: CoreConfig, options: StartOptions = {}): Promise<Core> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL)
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, enableAutoPipelining: true })
  const db = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE })
  db.on('error', (err) => logger.error({ err }, 'postgres pool error'))
  redis.on('error', (err) => logger.error({ err: err.message }, 'redis error'))
  if (config.RUN_MIGRATIONS) await migrate(db)

  const metrics = new Metrics()
  const scripts = new Scripts(redis, config.REDIS_PREFIX)
  const sales = new Sales(db, scripts)
  const jobs = new Jobs(redis, `${config.REDIS_PREFIX}:bull`, config.CHECKOUT_ATTEMPTS)
  const gateway = options.gateway ?? createGateway(config)
  const reporter = new RoomReporter(config.EDGE_URL, config.EDGE_ADMIN_TOKEN)
  const orders = new Orders(db, (orderId) => jobs.pendingCheckout(orderId))
  // A subscribed connection can do nothing else: the feed gets its own.
  const orderFeed = new OrderSettledFeed(redis, new Redis(config.REDIS_URL, { maxRetriesPerRequest: null }), `${config.REDIS_PREFIX}:orders:settled`)
  const redeemer = new Redeemer({ token: config.TOKEN_SECRET, grant: config.GRANT_SECRET }, sales, scripts, (job) => jobs.enqueueCheckout(job), metrics)

  const checkoutDeps: CheckoutDeps = {
    db,
    scripts,
    gateway,
    reportToken: (saleId, outcome) => jobs.enqueueRoomOutcome(saleId, outcome),
    logger,
  }

  let workers: ReturnType<typeof startWorkers> | undefined
  if (config.ROLE !== 'api') {
    // Workers block on Redis: they get their own connection.
    const workerConnection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null })
    workers = startWorkers({
      connection: workerConnection,
      jobs,
      checkoutDeps,
      sagaStore: new SagaStore(db),
      sales,
      scripts,
      reporter,
      metrics,
      logger,
      checkoutConcurrency: config.CHECKOUT_CONCURRENCY,
      onSettled: (orderId) => orderFeed.publish(orderId),
    })
    await jobs.scheduleSweep(config.HOLD_SWEEP_INTERVAL_MS)
    const closeWorkers = workers.close
    workers.close = async () => {
      await closeWorkers()
      workerConnection.disconnect()
    }
  }

  const app = createApp({
    config,
    sales,
    orders,
    orderFeed,
    redeemer,
    scripts,
    metrics,
    logger,
    health: async () => {
      const [redisOk, pgOk] = await Promise.all([
        redis.ping().then(() => true, () => false),
        db.query('SELECT 1').then(() => true, () => false),
      ])
      return { redis: redisOk, postgres: pgOk }
    },
  })

  let server: ServerType | undefined
  let url: string | undefined
  if (options.listen ?? config.ROLE !== 'worker') {
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, (info) => {
        url = `http://${config.HOST}:${info.port}`
        resolve()
      })
    })
  }

  let closing: Promise<void> | undefined
  return {
    config,
    app,
    server,
    url,
    redis,
    db,
    scripts,
    sales,
    jobs,
    gateway,
    metrics,
    logger,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
        await workers?.close()
        await orderFeed.close()
        await jobs.close()
        redis.disconnect()
        await db.end()
      })()),
  }
}
