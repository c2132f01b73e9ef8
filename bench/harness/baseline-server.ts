/**
 * The two designs Floodgate is measured against, behind the same HTTP stack as core (Hono on
 * @hono/node-server), the same request and the same token + grant verification (Web Crypto). Only the
 * way one unit of the hot SKU is held for the shopper differs:
 *
 * - `POST /row-lock/redeem`: the mainstream engines' way. One Postgres transaction:
 *   `SELECT stock … FOR UPDATE` on the product row, decrement, insert the reservation, commit.
 * - `POST /redis-lock/redeem`: seed 004 §6. A Redis lock per product (`SET key owner NX PX 30000`),
 *   then the same check-and-decrement and reservation in Postgres, then release the lock
 *   (compare-and-delete). A caller that finds the lock taken retries after 1-5 ms (the seed fails it
 *   outright as "out of stock"; retrying is the kinder reading and the faster one).
 *
 * Started by the harness as its own process: `node --import tsx bench/harness/baseline-server.ts`.
 * Env: PORT, DATABASE_URL (search_path = the run's schema), REDIS_URL, LOCK_PREFIX, TOKEN_SECRET,
 * GRANT_SECRET, DATABASE_POOL_SIZE.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { serve } from '@hono/node-server'
import { Hono, type Context } from 'hono'
import { Redis } from 'ioredis'
import pg from 'pg'
import { HEADER_SESSION, shopperOf, verifyGrant, verifyPurchaseToken } from '../../contracts/index.ts'

const env = process.env
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.DATABASE_POOL_SIZE ?? 20) })
const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
  enableAutoPipelining: true,
})
const lockPrefix = env.LOCK_PREFIX ?? 'fgbase'
const secrets = { token: env.TOKEN_SECRET ?? '', grant: env.GRANT_SECRET ?? '' }
const HOLD_SECONDS = 300
const LOCK_TTL_MS = 30_000
const LOCK_WAIT_MS = 5_000

redis.defineCommand('releaseLock', {
  numberOfKeys: 1,
  lua: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
})

type Verified = { sku: string; tid: string; shopper: string } | Response

async function verify(c: Context): Promise<Verified> {
  const session = c.req.header(HEADER_SESSION) ?? ''
  const body = (await c.req.json()) as { token?: string; grant?: string }
  const token = await verifyPurchaseToken(body.token, secrets.token)
  if (!token.ok) return c.json({ error: { code: token.code } }, 403)
  const shopper = await shopperOf(session)
  const grant = await verifyGrant(body.grant, secrets.grant, { token: token.payload, shopper, nowMs: Date.now() })
  if (!grant.ok) return c.json({ error: { code: grant.code } }, 403)
  return { sku: token.payload.sale, tid: token.payload.tid, shopper }
}

/** Check stock, take one, record the reservation: in one transaction, `lockRow` adding FOR UPDATE. */
async function reserve(
  v: { sku: string; tid: string; shopper: string },
  lockRow: boolean,
): Promise<'held' | 'sold_out' | 'token_used'> {
  const client = await db.connect()
  try {
    await client.query('BEGIN')
    const { rows } = await client.query<{ stock: number }>(
      `SELECT stock FROM inventory WHERE sku = $1${lockRow ? ' FOR UPDATE' : ''}`,
      [v.sku],
    )
    if (!rows[0] || rows[0].stock <= 0) {
      await client.query('ROLLBACK')
      return 'sold_out'
    }
    await client.query('UPDATE inventory SET stock = stock - 1 WHERE sku = $1', [v.sku])
    const inserted = await client.query(
      `INSERT INTO reservations (order_id, sku, token_id, shopper, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
       ON CONFLICT (token_id) DO NOTHING`,
      [`ord_${randomUUID().replace(/-/g, '')}`, v.sku, v.tid, v.shopper, HOLD_SECONDS],
    )
    if (inserted.rowCount === 0) {
      await client.query('ROLLBACK')
      return 'token_used'
    }
    await client.query('COMMIT')
    return 'held'
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

const STATUS = { held: 202, sold_out: 409, token_used: 409 } as const

const app = new Hono()
app.get('/healthz', (c) => c.json({ ok: true }))

app.post('/row-lock/redeem', async (c) => {
  const v = await verify(c)
  if (v instanceof Response) return v
  const outcome = await reserve(v, true)
  return c.json({ outcome }, STATUS[outcome])
})

app.post('/redis-lock/redeem', async (c) => {
  const v = await verify(c)
  if (v instanceof Response) return v
  const key = `${lockPrefix}:lock:{${v.sku}}`
  const owner = randomUUID()
  const deadline = Date.now() + LOCK_WAIT_MS
  while ((await redis.set(key, owner, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') {
    if (Date.now() > deadline) return c.json({ error: { code: 'lock_timeout' } }, 503)
    await sleep(1 + Math.random() * 4)
  }
  try {
    const outcome = await reserve(v, false)
    return c.json({ outcome }, STATUS[outcome])
  } finally {
    await (redis as unknown as { releaseLock(key: string, owner: string): Promise<number> }).releaseLock(key, owner)
  }
})

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(env.PORT ?? 3100) })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close()
    redis.disconnect()
    void db.end().finally(() => process.exit(0))
  })
}
