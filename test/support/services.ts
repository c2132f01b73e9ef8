import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import pg from 'pg'
import { migrate } from '../../core/db/migrate.ts'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A unique name per test run so tests never see each other's keys, queues or schemas. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`
}

export function testRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false })
}

export { dropRedisPrefix } from '../../core/redis/prefix.ts'

/** A fresh Postgres schema; returns a connection string whose search_path points at it. */
export async function createSchema(name: string): Promise<string> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  await client.query(`CREATE SCHEMA "${name}"`)
  await client.end()
  const url = new URL(DATABASE_URL)
  url.searchParams.set('options', `-c search_path=${name}`)
  return url.toString()
}

export async function dropSchema(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
  await client.end()
}

/** A pool on a fresh migrated schema of its own, and how to drop it (tests that need Postgres but not core). */
export async function migratedDatabase(prefix: string): Promise<{ db: pg.Pool; drop: () => Promise<void> }> {
  const schema = uniqueName(prefix)
  const db = new pg.Pool({ connectionString: await createSchema(schema), max: 4 })
  await migrate(db)
  return {
    db,
    drop: async () => {
      await db.end()
      await dropSchema(schema)
    },
  }
}
