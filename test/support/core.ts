import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { TokenOutcome } from '../../contracts/index.ts'
import { loadConfig, type CoreConfig } from '../../core/config.ts'
import { startCore, type Core, type StartOptions } from '../../core/core.ts'
import { createLogger } from '../../core/logger.ts'
import { createSchema, dropRedisPrefix, dropSchema, testRedis, uniqueName } from './services.ts'

/**
 * Records the token outcomes core sends to the waiting room, over real HTTP. Used by core-only tests;
 * the end-to-end tests use the real edge instead.
 */
export class OutcomeRecorder {
  readonly outcomes: Array<{ saleId: string } & TokenOutcome> = []
  private server?: Server
  url = ''

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = ''
      req.on('data', (chunk) => (body += chunk))
      req.on('end', () => {
        const saleId = /\/admin\/sales\/([^/]+)\/tokens\/outcomes$/.exec(req.url ?? '')?.[1]
        if (req.method !== 'POST' || !saleId) {
          res.writeHead(404).end()
          return
        }
        for (const o of JSON.parse(body).outcomes as TokenOutcome[]) this.outcomes.push({ saleId, ...o })
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ applied: 1 }))
      })
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
    return this
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}

export interface TestCore extends Core {
  schema: string
  prefix: string
  /** Removes everything the test created: schema, Redis keys, queues. */
  destroy(): Promise<void>
}

/** A complete core (API + workers) on real Redis and Postgres, isolated by schema and key prefix. */
export async function startTestCore(env: Partial<Record<keyof CoreConfig, string>> = {}, options: StartOptions = {}): Promise<TestCore> {
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

/** Creates a sale through core's admin API (as token-issuer does) and fails unless core answers 201. */
export async function createTestSale(core: Core, saleId: string, stock: number, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await core.app.request('/admin/sales', {
    method: 'POST',
    headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ saleId, sku: 'SKU-1', name: 'Drop', priceCents: 4999, stock, startsAt: new Date().toISOString(), ...extra }),
  })
  if (res.status !== 201) throw new Error(`creating sale ${saleId}: ${res.status} ${await res.text()}`)
}

/** Polls until `check` returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}
