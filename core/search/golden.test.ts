/**
 * The golden search set on the whole sample catalog (10,000 products), Postgres engine: every run.
 */
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dropRedisPrefix, migratedDatabase, testRedis, uniqueName } from '../../test/support/services.ts'
import { Catalog } from '../catalog/catalog.ts'
import { sampleCatalog } from '../catalog/sample-catalog.ts'
import { createLogger } from '../logger.ts'
import { GOLDEN_QUERIES, runGoldenSet } from './golden.ts'
import { PostgresSearchEngine } from './postgres-engine.ts'

let db: pg.Pool
let drop: () => Promise<void>
let redis: Redis
let prefix: string
let engine: PostgresSearchEngine

beforeAll(async () => {
  ;({ db, drop } = await migratedDatabase('fggold_'))
  redis = testRedis()
  prefix = uniqueName('fggold')
  const catalog = new Catalog({ db, redis, prefix, logger: createLogger('silent') })
  const lines = sampleCatalog()
  for (let i = 0; i < lines.length; i += 500)
    await catalog.importItems(lines.slice(i, i + 500).map((item, j) => ({ line: i + j + 1, item })))
  engine = new PostgresSearchEngine(db)
  for (;;) {
    const { taken } = await catalog.store.drainOutbox(500, async (docs) => {
      await engine.upsert(docs)
    })
    if (taken < 500) break
  }
}, 180_000)
afterAll(async () => {
  await dropRedisPrefix(redis, prefix)
  redis.disconnect()
  await drop()
})

describe('the golden search set', () => {
  it('should hold at least 50 queries, 15 with typos and 10 prefixes', () => {
    expect(GOLDEN_QUERIES.length).toBeGreaterThanOrEqual(50)
    expect(GOLDEN_QUERIES.filter((g) => g.kind === 'typo').length).toBeGreaterThanOrEqual(15)
    expect(GOLDEN_QUERIES.filter((g) => g.kind === 'prefix').length).toBeGreaterThanOrEqual(10)
  })

  it('should find the expected product in the first 10 hits for 90% of each kind, on the sample catalog', async () => {
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM search_documents WHERE active')
    expect(rows[0]!.n).toBe(10_000)

    const report = await runGoldenSet(engine)

    const misses = report.misses.map((m) => `${m.kind} "${m.q}" -> ${m.top.slice(0, 3).join(', ')}`).join('; ')
    expect(report.recallAt10.typo, misses).toBeGreaterThanOrEqual(0.9)
    expect(report.recallAt10.prefix, misses).toBeGreaterThanOrEqual(0.9)
    expect(report.recallAt10.exact, misses).toBeGreaterThanOrEqual(0.9)
  })
})
