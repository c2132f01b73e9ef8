/**
 * Makes sure Redis and Postgres are there for a local run, or explains how to get them.
 * - Redis: REDIS_URL if it answers; otherwise a `redis-server` binary on PATH, started on a spare port.
 * - Postgres: DATABASE_URL if it answers; otherwise an embedded PGlite served over the Postgres
 *   protocol on a spare port (one session, so core runs with a pool of one connection).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import pg from 'pg'
export { dropRedisPrefix } from '../core/redis/prefix.ts'

export interface LocalServices {
  redisUrl: string
  databaseUrl: string
  /** Set when Postgres is the embedded fallback, which serves one session at a time. */
  databasePoolSize?: number
  notes: string[]
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

const onPath = (binary: string) => spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0

export async function ensureServices({
  redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  allowEmbedded = true,
}: {
  redisUrl?: string
  databaseUrl?: string
  allowEmbedded?: boolean
} = {}): Promise<LocalServices> {
  const notes: string[] = []
  const stops: Array<() => Promise<void>> = []
  const result: LocalServices = {
    redisUrl,
    databaseUrl,
    notes,
    stop: async () => {
      for (const stop of stops.reverse()) await stop()
    },
  }

  if (!(await redisAnswers(redisUrl))) {
    if (!allowEmbedded || !onPath('redis-server')) {
      throw new Error(
        `Redis is not reachable at ${redisUrl}. Start one (\`docker compose up -d redis\`, or \`apt-get install redis-server\` / ` +
          '`brew install redis`), or point REDIS_URL at yours.',
      )
    }
    const port = await freePort()
    const child: ChildProcess = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    )
    stops.push(async () => {
      child.kill('SIGTERM')
    })
    result.redisUrl = `redis://127.0.0.1:${port}`
    for (let i = 0; i < 50 && !(await redisAnswers(result.redisUrl)); i++) await sleep(100)
    if (!(await redisAnswers(result.redisUrl))) throw new Error('started redis-server but it does not answer')
    notes.push(`Redis was not reachable at ${redisUrl}; started a local redis-server on port ${port}`)
  }

  if (!(await postgresAnswers(databaseUrl))) {
    if (!allowEmbedded)
      throw new Error(
        `Postgres is not reachable at ${databaseUrl}. Start one (\`docker compose up -d postgres\`) or set DATABASE_URL.`,
      )
    const [{ PGlite }, { PGLiteSocketServer }, { pg_trgm }, { unaccent }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('@electric-sql/pglite-socket'),
      // Product search (core/search/migrations) needs these two extensions.
      import('@electric-sql/pglite/contrib/pg_trgm'),
      import('@electric-sql/pglite/contrib/unaccent'),
    ])
    const db = await PGlite.create({ extensions: { pg_trgm, unaccent } })
    const port = await freePort()
    const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 64 })
    await server.start()
    stops.push(async () => {
      await server.stop()
      await db.close()
    })
    result.databaseUrl = `postgres://postgres@127.0.0.1:${port}/postgres`
    result.databasePoolSize = 1
    notes.push(
      `Postgres was not reachable at ${databaseUrl}; using an embedded PGlite on port ${port} (in memory, one session: ` +
        'fine for a demo, not for load). Set DATABASE_URL or run `docker compose up -d postgres` for the real thing.',
    )
  }
  return result
}
