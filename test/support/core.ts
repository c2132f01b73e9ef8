import { setTimeout as sleep } from 'node:timers/promises'
import type { Hono } from 'hono'
import type { Redis } from 'ioredis'
import { signAsEdge } from '../../contracts/index.ts'
import { loadConfig, type CoreConfig } from '../../core/config.ts'
import { startCore, type Core, type StartOptions } from '../../core/core.ts'
import { createLogger } from '../../core/logger.ts'
import { createSchema, dropRedisPrefix, dropSchema, testRedis, uniqueName } from './services.ts'

export interface TestCore extends Core {
  /** Core's app as a client reaching it directly sees it (no edge receipt added); `app` calls as the edge. */
  direct: Hono
  schema: string
  prefix: string
  /** Removes everything the test created: schema, Redis keys, queues. */
  destroy(): Promise<void>
}

/** A complete core (API + workers) on real Redis and Postgres, isolated by schema and key prefix. */
export async function startTestCore(
  env: Partial<Record<keyof CoreConfig, string>> = {},
  options: StartOptions = {},
): Promise<TestCore> {
  const schema = uniqueName('fg_')
  const prefix = uniqueName('fgt')
  const databaseUrl = await createSchema(schema)
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    REDIS_URL: process.env.REDIS_URL,
    DATABASE_URL: databaseUrl,
    REDIS_PREFIX: prefix,
    SIM_PAYMENT_LATENCY_MS: '2',
    HOLD_SWEEP_INTERVAL_MS: '3600000',
    ...env,
  })
  const core = await startCore(config, { logger: createLogger(config.LOG_LEVEL), ...options })
  return {
    ...core,
    app: asEdge(core.app, config.CORE_INTERNAL_TOKEN),
    direct: core.app,
    schema,
    prefix,
    destroy: async () => {
      await core.close()
      const redis: Redis = testRedis()
      await dropRedisPrefix(redis, prefix)
      redis.disconnect()
      await dropSchema(schema)
    },
  }
}

/**
 * `app.request` as the edge calls core: a call to `/v1/*` without an edge receipt gets one, bound to its session
 * and Idempotency-Key as the edge binds it (core refuses `/v1/*` calls without). A test that sends its own
 * receipt header (even an empty one) gets exactly that.
 */
function asEdge(app: Hono, secret: string): Hono {
  const request: Hono['request'] = async (input, init, ...rest) => {
    const req = input instanceof Request ? input : new Request(new URL(String(input), 'http://localhost'), init)
    const headers = new Headers(req.headers)
    await signAsEdge(headers, secret, req.method, new URL(req.url).pathname)
    return app.request(new Request(req, { headers }), undefined, ...rest)
  }
  return Object.assign(Object.create(app) as Hono, { request })
}

/** Creates a sale through core's admin API (as token-issuer does) and fails unless core answers 201. */
export async function createTestSale(
  core: Core,
  saleId: string,
  stock: number,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const res = await core.app.request('/admin/sales', {
    method: 'POST',
    headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      saleId,
      sku: 'SKU-1',
      name: 'Drop',
      priceCents: 4999,
      stock,
      startsAt: new Date().toISOString(),
      ...extra,
    }),
  })
  if (res.status !== 201) throw new Error(`creating sale ${saleId}: ${res.status} ${await res.text()}`)
}

/** Polls until `check` returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}
