import type { Server as HttpServer } from 'node:http'
import { serve, type ServerType } from '@hono/node-server'
import { Redis } from 'ioredis'
import pg from 'pg'
import { useTokenCrypto } from '../contracts/index.ts'
import { AccountStore } from './account/account-store.ts'
import { Accounts } from './account/accounts.ts'
import { LoginLimiter } from './account/login-limiter.ts'
import { PasswordHasher } from './account/passwords.ts'
import { accountRoutes, requireOperator } from './account/routes.ts'
import { CartStore } from './cart/cart-store.ts'
import { Carts } from './cart/carts.ts'
import { cartRoutes } from './cart/routes.ts'
import type { CheckoutDeps } from './checkout/deps.ts'
import { nodeTokenCrypto } from './crypto/node-token-crypto.ts'
import { createApp } from './app.ts'
import type { CoreConfig } from './config.ts'
import { migrate } from './db/migrate.ts'
import { progressPool } from './db/progress-pool.ts'
import { every } from './jobs/every.ts'
import { Jobs } from './jobs/jobs.ts'
import { startWorkers } from './jobs/workers.ts'
import { sweepHolds } from './sale/hold-sweep.ts'
import { OutboxProvider } from './notify/notifications.ts'
import { Payments } from './payment/payments.ts'
import { StripeWebhook } from './payment/stripe-webhook.ts'
import { Reconciler } from './reconcile/reconciler.ts'
import { createLogger, type Logger } from './logger.ts'
import { Metrics } from './metrics.ts'
import { OrderSettledFeed } from './order/order-settled-feed.ts'
import { Orders } from './order/orders.ts'
import type { PaymentGateway } from './payment/gateway.ts'
import { SimulatedGateway } from './payment/simulated-gateway.ts'
import { StripeGateway } from './payment/stripe-gateway.ts'
import { CheckoutOutbox, checkoutJobOptsJson } from './redeem/checkout-outbox.ts'
import { Redeemer } from './redeem/redeem.ts'
import { Scripts } from './redis/scripts.ts'
import { RoomReporter } from './room/room-reporter.ts'
import { SagaStore } from './saga/saga.ts'
import { Sales } from './sale/sales.ts'
import type { SearchEngine } from './search/engine.ts'
import { createStorefront, type Storefront } from './search/storefront.ts'

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
  payments: Payments
  reconciler: Reconciler
  metrics: Metrics
  logger: Logger
  /** Catalog, search engine and its sync job. */
  storefront: Storefront
  accounts: Accounts
  carts: Carts
  close(): Promise<void>
}

/** How long closing core waits for requests in flight before it cuts their connections. */
const CLOSE_DRAIN_MS = 3_000

/** How often each core process looks for checkout jobs stuck in a sale's outbox (older than 10 s). */
const OUTBOX_RECOVERY_INTERVAL_MS = 5_000

export interface StartOptions {
  /** Replace the gateway chosen by configuration (tests). */
  gateway?: PaymentGateway
  logger?: Logger
  /** Start the HTTP server (default: unless ROLE=worker). */
  listen?: boolean
  /** Replace the search engine chosen by SEARCH_ENGINE (tests). */
  searchEngine?: SearchEngine
}

export function createGateway(config: CoreConfig): PaymentGateway {
  if (config.PAYMENT_GATEWAY === 'stripe') {
    return new StripeGateway({
      secretKey: config.STRIPE_SECRET_KEY!,
      apiBase: config.STRIPE_API_BASE,
      timeoutMs: config.STRIPE_TIMEOUT_MS,
    })
  }
  return new SimulatedGateway({
    latencyMs: config.SIM_PAYMENT_LATENCY_MS,
    failureRate: config.SIM_PAYMENT_FAILURE_RATE,
    unavailableRate: config.SIM_PAYMENT_UNAVAILABLE_RATE,
  })
}

/** Wires core from its configuration: Redis, Postgres (migrated), the HTTP API and/or the workers. */
export async function startCore(config: CoreConfig, options: StartOptions = {}): Promise<Core> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL)
  useTokenCrypto(nodeTokenCrypto)
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, enableAutoPipelining: true })
  const db = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE })
  const progressDb = progressPool(config.DATABASE_URL)
  for (const pool of [db, progressDb]) {
    pool.on('error', (err) => logger.error({ err }, 'postgres pool error'))
    // The pool only listens on idle clients: a checked-out client (a transaction in progress) whose server goes
    // away emits 'error' with nobody listening, which kills the process. The query in flight fails anyway.
    pool.on('connect', (client) =>
      client.on('error', (err) => logger.warn({ err: err.message }, 'postgres connection lost')),
    )
  }
  redis.on('error', (err) => logger.error({ err: err.message }, 'redis error'))
  if (config.RUN_MIGRATIONS) await migrate(db)

  const metrics = new Metrics()
  const scripts = new Scripts(redis, config.REDIS_PREFIX)
  const jobs = new Jobs(redis, `${config.REDIS_PREFIX}:bull`, config.CHECKOUT_ATTEMPTS)
  const sales = new Sales(db, scripts, async (saleId, outcomes) => {
    for (const outcome of outcomes) await jobs.enqueueRoomOutcome(saleId, outcome)
  })
  const gateway = options.gateway ?? createGateway(config)
  const payments = new Payments(
    db,
    gateway,
    logger,
    (event, recipient) => jobs.enqueueNotification(event, recipient),
    config.PAYMENT_CALL_TRIES,
  )
  const reconciler = new Reconciler({
    db,
    sales,
    scripts,
    jobs,
    gateway,
    payments,
    metrics,
    logger,
    staleMs: config.RECONCILE_STALE_MS,
    sweepHolds: () => sweepHolds({ sales, scripts, jobs, metrics, logger, orders }),
  })
  const stripeWebhook = config.STRIPE_WEBHOOK_SECRET
    ? new StripeWebhook({
        secret: config.STRIPE_WEBHOOK_SECRET,
        db,
        gateway,
        payments,
        logger,
        review: (orderId) => reconciler.reviewOrder(orderId),
      })
    : undefined
  const reporter = new RoomReporter(config.EDGE_URL, config.EDGE_ADMIN_TOKEN)
  const orders = new Orders(db, (orderId) => jobs.pendingCheckout(orderId))
  // A subscribed connection can do nothing else: the feed gets its own.
  const orderFeed = new OrderSettledFeed(
    redis,
    new Redis(config.REDIS_URL, { maxRetriesPerRequest: null }),
    `${config.REDIS_PREFIX}:orders:settled`,
  )
  const checkoutOutbox = new CheckoutOutbox(
    scripts,
    jobs.checkout,
    checkoutJobOptsJson(config.CHECKOUT_ATTEMPTS),
    logger,
  )
  const redeemer = new Redeemer(
    { token: config.TOKEN_SECRET, grant: config.GRANT_SECRET },
    sales,
    scripts,
    checkoutOutbox,
    orders,
    metrics,
    config.MAX_CONCURRENT_CHECKOUTS,
  )
  // Checkout jobs a core process left in a sale's outbox (it died between the redeem script and the forward).
  const stopOutboxRecovery = every(
    OUTBOX_RECOVERY_INTERVAL_MS,
    async () => checkoutOutbox.recover(await sales.ids()),
    (err) => logger.warn({ err: err.message }, 'checkout outbox recovery failed'),
  )

  const checkoutDeps: CheckoutDeps = {
    db,
    scripts,
    gateway,
    reportToken: (saleId, outcome) => jobs.enqueueRoomOutcome(saleId, outcome),
    reportTokens: (saleId, outcomes) => jobs.enqueueRoomOutcomes(saleId, outcomes),
    logger,
    payments: { callTries: config.PAYMENT_CALL_TRIES, maxTries: config.PAYMENT_MAX_TRIES, backoffMs: 200 },
  }

  const accounts = new Accounts({
    store: new AccountStore(db),
    hasher: new PasswordHasher(config.SCRYPT_LOG_N),
    limiter: new LoginLimiter(redis, config.REDIS_PREFIX, {
      maxFailuresPerAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxPerAddress: config.LOGIN_MAX_PER_ADDRESS,
      windowSeconds: config.LOGIN_WINDOW_SECONDS,
    }),
    accessTokenKey: config.ACCESS_TOKEN_KEY,
    accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
  })
  const operatorAuth = requireOperator(accounts, config.CORE_ADMIN_TOKEN)
  const storefront = await createStorefront({
    config,
    db,
    redis,
    metrics,
    logger,
    engine: options.searchEngine,
    adminAuth: operatorAuth,
  })
  const carts = new Carts({
    store: new CartStore(db),
    catalog: storefront.catalog,
    sagas: new SagaStore(db, progressDb),
    checkoutDeps,
    logger,
    quoteSecret: config.CART_QUOTE_SECRET,
    reservationSeconds: config.CART_RESERVATION_SECONDS,
    staleSagaMs: config.RECONCILE_STALE_MS,
  })

  let workers: ReturnType<typeof startWorkers> | undefined
  if (config.ROLE !== 'api') {
    await storefront.startWorkers()
    // Workers block on Redis: they get their own connection.
    const workerConnection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null })
    workers = startWorkers({
      connection: workerConnection,
      jobs,
      checkoutDeps,
      sagaStore: new SagaStore(db, progressDb),
      sales,
      scripts,
      reporter,
      metrics,
      logger,
      checkoutConcurrency: config.CHECKOUT_CONCURRENCY,
      settleBatch: { maxBatch: config.SETTLE_BATCH_MAX, lingerMs: config.SETTLE_BATCH_LINGER_MS },
      jobLockMs: config.JOB_LOCK_MS,
      onSettled: (orderIds) => orderFeed.publish(orderIds),
      reconciler,
      notificationProviders: [new OutboxProvider(db, 'email')],
      sweepHolds: () => sweepHolds({ sales, scripts, jobs, metrics, logger, orders }),
    })
    const schedule = () => jobs.scheduleMaintenance(config.HOLD_SWEEP_INTERVAL_MS, config.RECONCILE_INTERVAL_MS)
    await schedule()
    // Redis may come back empty (restart without persistence): its repeatable jobs are gone with it, so the
    // schedule is put back on every reconnect, and a plain timer (not BullMQ, which lives in that Redis)
    // checks for lost sales and rebuilds their counters from Postgres.
    redis.on(
      'ready',
      () => void schedule().catch((err) => logger.warn({ err: err.message }, 'could not reschedule maintenance')),
    )
    const stopWatchdog = every(
      config.REDIS_CHECK_INTERVAL_MS,
      async () => ((await reconciler.run('redis-counters')).fixed ? schedule() : undefined),
      (err) => logger.warn({ err: err.message }, 'redis counter check failed'),
    )
    const stopCartSweep = every(
      config.CART_SWEEP_INTERVAL_MS,
      () => carts.sweep(),
      (err) => logger.warn({ err: err.message }, 'cart sweep failed'),
    )
    const closeWorkers = workers.close
    workers.close = async () => {
      stopCartSweep()
      stopWatchdog()
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
    payments,
    reconciler,
    stripeWebhook,
    accounts,
    operatorAuth,
    routes: [
      ...storefront.routes,
      accountRoutes({
        accounts,
        adminToken: config.CORE_ADMIN_TOKEN,
        mergeCart: (accountId, cartId) => carts.merge(accountId, cartId),
      }),
      cartRoutes({ carts, accounts }),
    ],
    health: async () => {
      const [redisOk, pgOk] = await Promise.all([
        redis.ping().then(
          () => true,
          () => false,
        ),
        db.query('SELECT 1').then(
          () => true,
          () => false,
        ),
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
      // The edge (workerd, Cloudflare) keeps idle connections to core and reuses them without reading a
      // Keep-Alive hint. Node's default (5 s) closes them first, and a request written as one closes arrives
      // as "Network connection lost" at the edge: keep them open longer than any caller's pool does.
      ;(server as import('node:http').Server).keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS
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
    payments,
    reconciler,
    metrics,
    logger,
    storefront,
    accounts,
    carts,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          const listening = server
          if (!listening) return resolve()
          // Requests in flight get a few seconds to finish; a long poll or a stuck client does not hold the exit.
          const drain = setTimeout(() => (listening as HttpServer).closeAllConnections(), CLOSE_DRAIN_MS)
          listening.close(() => {
            clearTimeout(drain)
            resolve()
          })
        })
        stopOutboxRecovery()
        await carts.settled()
        await storefront.close()
        await workers?.close()
        await reporter.close()
        await orderFeed.close()
        await jobs.close()
        redis.disconnect()
        await db.end()
        await progressDb.end()
      })()),
  }
}
