import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import pg from 'pg'
import { dropRedisPrefix, type LocalServices } from './services.ts'

/** A local stack's own Postgres schema and Redis key prefix, so runs never see each other's data. */
export interface StackData {
  schema: string
  prefix: string
  /** DATABASE_URL with the schema as its search path. */
  databaseUrl: string
  /** Drops the schema and every key under the prefix. */
  drop(): Promise<void>
}

/** Creates a fresh schema `<schemaStem>_<id>` and picks the key prefix `<prefixStem><id>`. */
export async function createStackData(
  services: LocalServices,
  schemaStem: string,
  prefixStem: string,
): Promise<StackData> {
  const id = randomBytes(4).toString('hex')
  const schema = `${schemaStem}_${id}`
  const prefix = `${prefixStem}${id}`
  const admin = new pg.Client({ connectionString: services.databaseUrl })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  const databaseUrl = new URL(services.databaseUrl)
  databaseUrl.searchParams.set('options', `-c search_path=${schema}`)
  return {
    schema,
    prefix,
    databaseUrl: databaseUrl.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: services.databaseUrl })
      await client.connect()
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await client.end()
      const redis = new Redis(services.redisUrl)
      await dropRedisPrefix(redis, prefix)
      redis.disconnect()
    },
  }
}
