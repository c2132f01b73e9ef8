/**
 * The whole of Floodgate on this machine: Redis and Postgres (found or started), core (API and
 * workers, in this process) and the edge with its waiting room (workerd via Miniflare). Every run
 * gets its own Postgres schema and Redis key prefix, so runs never see each other's data.
 */
import { publicKeyOf } from '../contracts/index.ts'
import { loadConfig, type CoreConfig } from '../core/config.ts'
import { startCore, type Core } from '../core/core.ts'
import { createLogger } from '../core/logger.ts'
import type { PaymentGateway } from '../core/payment/gateway.ts'
import { ensureServices, freePort, type LocalServices } from './services.ts'
import { createStackData } from './stack-data.ts'
import { startLocalEdge, type LocalEdge, type LocalEdgeOptions } from './local-edge.ts'
import { issuerConfig, type IssuerConfig } from '../token-issuer/issuer.ts'

export interface LocalStack {
  core: Core
  edge: LocalEdge
  services: LocalServices
  coreUrl: string
  edgeUrl: string
  config: CoreConfig
  schema: string
  /** What token-issuer needs to operate this stack (URLs, admin tokens, the token secret). */
  issuerConfig(): IssuerConfig
  stop(options?: { keepData?: boolean }): Promise<void>
}

export interface LocalStackOptions {
  env?: Partial<Record<keyof CoreConfig, string>>
  gateway?: PaymentGateway
  logLevel?: string
  /** Edge settings beyond the local defaults (e.g. the per-network limits, off by default locally). */
  edge?: Pick<LocalEdgeOptions, 'shopperPerNetworkPerSecond' | 'redeemPerIpPerSecond' | 'redeemPerShopperPerSecond'>
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const services = await ensureServices()
  const data = await createStackData(services, 'floodgate', 'fg')

  const [corePort, edgePort] = [await freePort(), await freePort()]
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(corePort),
    ROLE: 'all',
    LOG_LEVEL: options.logLevel ?? process.env.LOG_LEVEL ?? 'warn',
    REDIS_URL: services.redisUrl,
    REDIS_PREFIX: data.prefix,
    DATABASE_URL: data.databaseUrl,
    ...(services.databasePoolSize ? { DATABASE_POOL_SIZE: String(services.databasePoolSize) } : {}),
    EDGE_URL: `http://127.0.0.1:${edgePort}`,
    ...options.env,
  })
  const edge = await startLocalEdge({
    coreUrl: `http://127.0.0.1:${corePort}`,
    grantSecret: config.GRANT_SECRET,
    edgeAdminToken: config.EDGE_ADMIN_TOKEN,
    coreInternalToken: config.CORE_INTERNAL_TOKEN,
    accessTokenPublicKey: publicKeyOf(config.ACCESS_TOKEN_KEY),
    port: edgePort,
    ...options.edge,
    ...(process.env.EDGE_INSPECTOR_PORT ? { inspectorPort: Number(process.env.EDGE_INSPECTOR_PORT) } : {}),
  })
  const core = await startCore(config, { logger: createLogger(config.LOG_LEVEL), gateway: options.gateway })

  let stopping: Promise<void> | undefined
  return {
    core,
    edge,
    services,
    coreUrl: core.url!,
    edgeUrl: edge.url,
    config,
    schema: data.schema,
    issuerConfig: () =>
      issuerConfig({
        CORE_URL: core.url!,
        EDGE_URL: edge.url,
        CORE_ADMIN_TOKEN: config.CORE_ADMIN_TOKEN,
        EDGE_ADMIN_TOKEN: config.EDGE_ADMIN_TOKEN,
        TOKEN_SECRET: config.TOKEN_SECRET,
      }),
    stop: ({ keepData = false } = {}) =>
      (stopping ??= (async () => {
        await core.close()
        await edge.dispose()
        if (!keepData) await data.drop()
        await services.stop()
      })()),
  }
}
