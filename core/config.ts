import { z } from 'zod'
import { parseAccessKey } from '../contracts/index.ts'

const DEV_SECRET = (name: string) => `dev-only-${name}-change-me-0123456789abcdef`
const DEV_SECRET_KEYS = [
  'TOKEN_SECRET',
  'GRANT_SECRET',
  'CORE_ADMIN_TOKEN',
  'CORE_INTERNAL_TOKEN',
  'EDGE_ADMIN_TOKEN',
  'METRICS_TOKEN',
  'CART_QUOTE_SECRET',
] as const
/**
 * The dev-only ES256 key of account access tokens (its public half is in wrangler.toml's dev vars). Public, like
 * the dev secrets above: refused in production and beyond loopback.
 */
export const DEV_ACCESS_TOKEN_KEY = JSON.stringify({
  kty: 'EC',
  crv: 'P-256',
  x: 'nvEFxm1D3iXPiGhflpXzdX64-rKKM625yfupYanRTIw',
  y: '2zjWs0esmGliqWTsARBkSocu-2ztyUiQ1Xh0Ut0WJSU',
  d: 'JTL_DPXGYNDdZXqJhtIupAQlRjN1bFULYMJKQ2rjzW8',
})

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')

/**
 * Every setting core reads, from the environment, checked once at start. The README's configuration
 * table lists the same names and defaults; keep them together.
 */
export const CoreConfig = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /**
     * How long core keeps an idle keep-alive connection. Longer than the pools of its callers: workerd's and
     * Cloudflare's (900 s toward an origin), which reuse connections without reading Keep-Alive hints.
     */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(910_000),
    /** api = HTTP only, worker = BullMQ workers only, all = both in one process. */
    ROLE: z.enum(['all', 'api', 'worker']).default('all'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** Prefix of every Redis key and BullMQ queue; lets several environments share one Redis. */
    REDIS_PREFIX: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,30}$/)
      .default('fg'),
    DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/postgres'),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20),
    TOKEN_SECRET: z.string().min(32).default(DEV_SECRET('token-secret')),
    GRANT_SECRET: z.string().min(32).default(DEV_SECRET('grant-secret')),
    CORE_ADMIN_TOKEN: z.string().min(16).default(DEV_SECRET('core-admin')),
    CORE_INTERNAL_TOKEN: z.string().min(16).default(DEV_SECRET('core-internal')),
    EDGE_URL: z.string().url().default('http://127.0.0.1:8787'),
    EDGE_ADMIN_TOKEN: z.string().min(16).default(DEV_SECRET('edge-admin')),
    /** Bearer token Prometheus sends to scrape GET /metrics (sale ids and volumes are not public). */
    METRICS_TOKEN: z.string().min(16).default(DEV_SECRET('metrics')),
    /**
     * Lets core keep the publicly known dev-only secrets while listening beyond loopback: only for a container
     * whose port is published on the host's loopback (docker-compose.yml). Refused in production.
     */
    ALLOW_DEV_SECRETS: bool.default(false),
    PAYMENT_GATEWAY: z.enum(['simulated', 'stripe']).default('simulated'),
    /** Stripe secret key (sk_test_… / sk_live_…); required when PAYMENT_GATEWAY=stripe. */
    STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_(test|live)_\w+$/, 'must be a Stripe secret key')
      .optional(),
    /** Signing secret of the /webhooks/stripe endpoint (whsec_…); without it the endpoint answers 404. */
    STRIPE_WEBHOOK_SECRET: z.string().min(8).optional(),
    /** Another Stripe API origin: the offline fixture server in tests and drills. */
    STRIPE_API_BASE: z.string().url().optional(),
    STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /** Gateway calls per saga step (same key, backoff from 200 ms) before the job is retried by BullMQ. */
    PAYMENT_CALL_TRIES: z.coerce.number().int().min(1).max(20).default(3),
    /** Authorization attempts (across job retries) after which the payment is PENDING and left to reconciliation. */
    PAYMENT_MAX_TRIES: z.coerce.number().int().min(1).max(1000).default(12),
    SIM_PAYMENT_UNAVAILABLE_RATE: z.coerce.number().min(0).max(1).default(0),
    /** How often each reconciliation job runs (BullMQ repeatable); all of them also run on demand. 0: on demand only. */
    RECONCILE_INTERVAL_MS: z.coerce
      .number()
      .int()
      .refine((n) => n === 0 || (n >= 100 && n <= 86_400_000), 'must be 0 or 100..86400000 ms')
      .default(60_000),
    /** A saga not moved for this long, with no live job, is resumed; a PENDING payment this old is asked about. */
    RECONCILE_STALE_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
    /** How often core checks whether Redis lost a sale's counters (and rebuilds them from Postgres). 0: never. */
    REDIS_CHECK_INTERVAL_MS: z.coerce
      .number()
      .int()
      .refine((n) => n === 0 || (n >= 100 && n <= 3_600_000), 'must be 0 or 100..3600000 ms')
      .default(5_000),
    SIM_PAYMENT_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(50),
    SIM_PAYMENT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
    CHECKOUT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
    CHECKOUT_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(12),
    SETTLE_BATCH_MAX: z.coerce.number().int().min(1).max(2000).default(200),
    SETTLE_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(25),
    /** BullMQ lock of a running checkout job; a worker that dies holding it is noticed (and the job re-run) after about this long. */
    JOB_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
    /** Seed 003 §8.2's cap on concurrent checkouts, per sale: units held while payment runs. 0 = no cap. */
    MAX_CONCURRENT_CHECKOUTS: z.coerce.number().int().min(0).max(10_000_000).default(0),
    HOLD_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    RUN_MIGRATIONS: bool.default(true),
    /** Private JWK (P-256, with `d`) that signs account access tokens (ES256); the edge holds its public half. */
    ACCESS_TOKEN_KEY: z
      .string()
      .refine((v) => {
        try {
          parseAccessKey(v, 'sign')
          return true
        } catch {
          return false
        }
      }, 'must be a private P-256 JWK as JSON: {"kty":"EC","crv":"P-256","x":…,"y":…,"d":…}')
      .default(DEV_ACCESS_TOKEN_KEY),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(600),
    REFRESH_TOKEN_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(300)
      .max(90 * 86_400)
      .default(30 * 86_400),
    /**
     * scrypt cost: N = 2^SCRYPT_LOG_N, r = 8, p = 1 (memory 128·N·r bytes: 32 MiB at 15). Stored with each hash,
     * so raising it only affects new passwords. Tests lower it.
     */
    SCRYPT_LOG_N: z.coerce.number().int().min(10).max(20).default(15),
    /** Failed logins per account, and login attempts per client address, allowed per LOGIN_WINDOW_SECONDS. */
    LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(1000).default(10),
    LOGIN_MAX_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(100),
    LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    /** HMAC key of a cart's signed price quote. */
    CART_QUOTE_SECRET: z.string().min(32).default(DEV_SECRET('cart-quote')),
    /** How long a cart checkout's stock stays reserved while its payment runs; then the sweep gives it back. */
    CART_RESERVATION_SECONDS: z.coerce.number().int().min(5).max(3600).default(600),
    /** How often the cart sweep runs (expired reservations back to stock, stalled cart sagas resumed). */
    CART_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
    /** Product search: postgres (default, nothing more to run) or elasticsearch (needs ES_URL). */
    SEARCH_ENGINE: z.enum(['postgres', 'elasticsearch']).default('postgres'),
    /** Elasticsearch 9.x node, e.g. http://127.0.0.1:9200 (docker compose runs one). */
    ES_URL: z.string().url().optional(),
    ES_API_KEY: z.string().min(1).optional(),
    /** The alias searches read; indices behind it are <alias>_v<N>, swapped by a reindex. */
    ES_INDEX: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,100}$/, 'lowercase a-z, 0-9, _ and -')
      .default('floodgate-products'),
    /** How often the search-sync job drains the catalog outbox even without a kick. */
    SEARCH_SYNC_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(1_000),
  })
  .superRefine((c, ctx) => {
    if (c.PAYMENT_GATEWAY === 'stripe' && !c.STRIPE_SECRET_KEY)
      ctx.addIssue({ code: 'custom', path: ['STRIPE_SECRET_KEY'], message: 'required when PAYMENT_GATEWAY=stripe' })
    if (c.SEARCH_ENGINE === 'elasticsearch' && !c.ES_URL) {
      ctx.addIssue({ code: 'custom', path: ['ES_URL'], message: 'required when SEARCH_ENGINE=elasticsearch' })
    }
    if (c.NODE_ENV === 'production' && c.ALLOW_DEV_SECRETS) {
      ctx.addIssue({ code: 'custom', path: ['ALLOW_DEV_SECRETS'], message: 'cannot be set in production' })
    }
    // The dev-only values are in this repository: anyone who can reach core could use them.
    const reachable = !isLoopback(c.HOST) && !(c.ALLOW_DEV_SECRETS && c.NODE_ENV !== 'production')
    if (c.NODE_ENV !== 'production' && !reachable) return
    const why = c.NODE_ENV === 'production' ? 'in production' : `when core listens beyond loopback (HOST=${c.HOST})`
    for (const key of DEV_SECRET_KEYS) {
      if (c[key].startsWith('dev-only-'))
        ctx.addIssue({ code: 'custom', path: [key], message: `must be set to a real secret ${why}` })
    }
    if (c.ACCESS_TOKEN_KEY === DEV_ACCESS_TOKEN_KEY) {
      ctx.addIssue({ code: 'custom', path: ['ACCESS_TOKEN_KEY'], message: `must be set to a real key ${why}` })
    }
  })
export type CoreConfig = z.infer<typeof CoreConfig>

export function loadConfig(env: Record<string, string | undefined> = process.env): CoreConfig {
  const parsed = CoreConfig.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')))
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`)
    throw new Error(`invalid configuration:\n${lines.join('\n')}`)
  }
  return parsed.data
}
