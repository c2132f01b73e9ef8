import type { Redis } from 'ioredis'
import type pg from 'pg'

/** Every Redis key matching `pattern`, with its value (strings, hashes and sorted sets; other types by name). */
export async function redisValues(redis: Redis, pattern: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    for (const key of keys) {
      const type = await redis.type(key)
      out[key] =
        type === 'string'
          ? await redis.get(key)
          : type === 'hash'
            ? await redis.hgetall(key)
            : type === 'zset'
              ? await redis.zrange(key, '0', '-1', 'WITHSCORES')
              : type
    }
    cursor = next
  } while (cursor !== '0')
  return out
}

/** Each table's row count and a digest of its rows, keyed `pg:<table>` unless `keyOf` names them otherwise. */
export async function tableDigests(
  db: pg.Pool,
  tables: readonly string[],
  keyOf = (table: string) => `pg:${table}`,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const table of tables) {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n, coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') AS digest FROM ${table} t`,
    )
    out[keyOf(table)] = rows[0]
  }
  return out
}

const SALE_TABLES = [
  'sales',
  'orders',
  'payments',
  'sagas',
  'saga_step_log',
  'shopper_purchases',
  'refunds',
  'processed_events',
  'flags',
  'outbox',
]

/** Everything a refused request could have touched: every sale key in Redis and the row counts in Postgres. */
export async function snapshotState(redis: Redis, db: pg.Pool, prefix: string): Promise<Record<string, unknown>> {
  return { ...(await redisValues(redis, `${prefix}:{*`)), ...(await tableDigests(db, SALE_TABLES)) }
}
