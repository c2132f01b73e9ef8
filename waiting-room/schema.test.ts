import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { publicIdOf } from '../contracts/index.ts'
import { backfillPublicIds } from './fairness.ts'
import { makeShoppers, mintTokens, roomConfig, roomStub, uniqueSaleId, useTestClock } from './fixtures.ts'
import { MIGRATIONS, migrate, SCHEMA_VERSION } from './schema.ts'
import { RoomStore } from './store.ts'

let clock: ReturnType<typeof useTestClock>
beforeEach(() => {
  clock = useTestClock()
})
afterEach(() => {
  vi.useRealTimers()
})

/** The tables of the first shipped version, exactly as that code created them (before numbered migrations). */
const OLD_V1 = [
  `CREATE TABLE IF NOT EXISTS room (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     sale_id TEXT,
     starts_at INTEGER,
     starts_at_iso TEXT,
     admit_per_minute INTEGER,
     token_ttl_seconds INTEGER,
     last_tick INTEGER,
     budget REAL NOT NULL DEFAULT 0,
     admitted_total INTEGER NOT NULL DEFAULT 0,
     recycled_total INTEGER NOT NULL DEFAULT 0
   )`,
  `INSERT OR IGNORE INTO room (id) VALUES (1)`,
  `CREATE TABLE IF NOT EXISTS tokens (
     tid TEXT PRIMARY KEY,
     n INTEGER NOT NULL UNIQUE,
     token TEXT NOT NULL,
     gen INTEGER NOT NULL DEFAULT 0,
     state TEXT NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'granted', 'redeemed', 'sold')),
     holder TEXT,
     grant_exp INTEGER
   )`,
  `CREATE INDEX IF NOT EXISTS tokens_by_state ON tokens (state, n)`,
  `CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (state, grant_exp)`,
  `CREATE TABLE IF NOT EXISTS queue (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     shopper TEXT NOT NULL UNIQUE,
     joined_at INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'admitted', 'expired')),
     tid TEXT,
     gen INTEGER,
     "grant" TEXT,
     grant_iat INTEGER,
     grant_exp INTEGER
   )`,
  `CREATE INDEX IF NOT EXISTS queue_by_state ON queue (state, seq)`,
  `CREATE TABLE IF NOT EXISTS issuance (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     shopper TEXT NOT NULL,
     tid TEXT NOT NULL,
     gen INTEGER NOT NULL,
     pre INTEGER NOT NULL,
     ord REAL NOT NULL,
     joined_at INTEGER NOT NULL,
     admitted_at INTEGER NOT NULL
   )`,
]

/** The columns the old code added one release at a time, with the indexes it created last. */
const OLD_ADDED = [
  `ALTER TABLE room ADD COLUMN shard INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE room ADD COLUMN shards INTEGER NOT NULL DEFAULT 1`,
  `ALTER TABLE room ADD COLUMN mode TEXT NOT NULL DEFAULT 'open'`,
  `ALTER TABLE room ADD COLUMN max_active INTEGER`,
  `ALTER TABLE room ADD COLUMN max_places_per_ip INTEGER`,
  `ALTER TABLE room ADD COLUMN prequeue_order TEXT NOT NULL DEFAULT 'fifo'`,
  `ALTER TABLE room ADD COLUMN seed TEXT`,
  `ALTER TABLE room ADD COLUMN commitment TEXT`,
  `ALTER TABLE room ADD COLUMN through_ord REAL`,
  `ALTER TABLE queue ADD COLUMN ord REAL`,
  `ALTER TABLE queue ADD COLUMN pre INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE queue ADD COLUMN ip TEXT`,
  `ALTER TABLE queue ADD COLUMN token TEXT`,
  `ALTER TABLE queue ADD COLUMN remote_shard INTEGER`,
  `ALTER TABLE tokens ADD COLUMN holder_shard INTEGER`,
  `ALTER TABLE room ADD COLUMN sale_sold_out INTEGER NOT NULL DEFAULT 0`,
  `CREATE INDEX IF NOT EXISTS queue_by_ord_seq ON queue (state, ord, seq)`,
  `CREATE INDEX IF NOT EXISTS queue_by_ip ON queue (ip)`,
]

const OLD_TABLES = ['room', 'tokens', 'queue', 'issuance']
const TABLES = [...OLD_TABLES, 'prequeue_joins']

type Layout = { columns: Record<string, string[]>; indexes: string[] }

function layout(sql: SqlStorage): Layout {
  const columns: Record<string, string[]> = {}
  for (const table of TABLES) {
    columns[table] = sql
      .exec<{ name: string; type: string; notnull: number; dflt_value: string | null }>(
        `SELECT name, type, "notnull", dflt_value FROM pragma_table_info(?)`,
        table,
      )
      .toArray()
      .map((c) => [c.name, c.type, c.notnull ? 'NOT NULL' : '', c.dflt_value ?? ''].join(' '))
      .sort()
  }
  const indexes = sql
    .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'`)
    .toArray()
    .map((r) => r.name)
    .sort()
  return { columns, indexes }
}

/** Replaces an object's tables with what the old code left behind: v1, then the first `added` of OLD_ADDED. */
function makeOld(sql: SqlStorage, added: number): void {
  for (const table of [...TABLES, 'schema_migrations']) sql.exec(`DROP TABLE IF EXISTS ${table}`)
  for (const statement of [...OLD_V1, ...OLD_ADDED.slice(0, added)]) sql.exec(statement)
}

/** A new object's schema is written by its first `configure` (an object nobody configured writes nothing). */
async function configuredObject() {
  const saleId = uniqueSaleId('fresh')
  const room = roomStub(saleId)
  expect(await room.configure(roomConfig(saleId, clock.now() + 60_000))).toMatchObject({ ok: true })
  return room
}

async function newObjectLayout(): Promise<Layout> {
  return runInDurableObject(await configuredObject(), (_i, state) => layout(state.storage.sql))
}

describe('when a new object starts', () => {
  it('should apply every migration once, in order, and record each', async () => {
    const recorded = await runInDurableObject(await configuredObject(), (_i, state) =>
      state.storage.sql
        .exec<{ version: number; name: string }>(`SELECT version, name FROM schema_migrations`)
        .toArray(),
    )

    expect(recorded).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })))
    expect(recorded.at(-1)!.version).toBe(SCHEMA_VERSION)
  })
})

describe('when an object created by the code before numbered migrations wakes up', () => {
  for (const [what, added] of [
    ['the first tables only', 0],
    ['some of the columns added later', 6],
    ['every column the old code added', OLD_ADDED.length],
  ] as const) {
    it(`should upgrade one with ${what} to the current schema, keeping its rows`, async () => {
      const saleId = uniqueSaleId('old')
      const room = roomStub(saleId)
      const [token] = await mintTokens(saleId, 1)
      const [shopper, early] = await makeShoppers(2)
      const startsAt = clock.now() - 60_000
      const expected = await newObjectLayout()

      const after = await runInDurableObject(room, async (_i, state) => {
        const sql = state.storage.sql
        makeOld(sql, added)
        sql.exec(
          `UPDATE room SET sale_id = ?, starts_at = ?, starts_at_iso = ?, admit_per_minute = 60, token_ttl_seconds = 60,
                  admitted_total = 0 WHERE id = 1`,
          saleId,
          startsAt,
          new Date(startsAt).toISOString(),
        )
        sql.exec(`INSERT INTO tokens (tid, n, token) VALUES ('tid_old_000000001', 1, ?)`, token!)
        sql.exec(`INSERT INTO queue (shopper, joined_at) VALUES (?, ?)`, shopper!.shopper, startsAt + 1_000)
        // With the shuffle's columns: a pre-queue place, drawn at key 0.25 (the old key, over the shopper id).
        const withShuffle = added === OLD_ADDED.length
        if (withShuffle) {
          sql.exec(`UPDATE queue SET ord = 1 + seq`)
          const place = `INSERT INTO queue (shopper, joined_at, pre, ord) VALUES (?, ?, 1, 0.25)`
          sql.exec(place, early!.shopper, startsAt - 1)
        }

        const version = migrate(state.storage)
        const again = migrate(state.storage)
        await backfillPublicIds(new RoomStore(state.storage), env.GRANT_SECRET)
        const versions = sql.exec(`SELECT version FROM schema_migrations`).toArray()
        const publicIds = sql.exec(`SELECT shopper, public_id FROM queue ORDER BY seq`).toArray()
        const joins = sql.exec(`SELECT shopper, public_id, key FROM prequeue_joins ORDER BY seq`).toArray()
        return { version, again, layout: layout(sql), versions, publicIds, joins, withShuffle }
      })

      expect(after.version).toBe(SCHEMA_VERSION)
      expect(after.again).toBe(SCHEMA_VERSION)
      expect(after.versions).toHaveLength(MIGRATIONS.length)
      expect(after.layout).toEqual(expected)
      // Rows from before public ids get theirs; a pre-queue place joins the public join list.
      const idOf = (s: string) => publicIdOf(env.GRANT_SECRET, saleId, s)
      expect(after.publicIds[0]).toEqual({ shopper: shopper!.shopper, public_id: await idOf(shopper!.shopper) })
      if (after.withShuffle) {
        expect(after.joins).toEqual([{ shopper: early!.shopper, public_id: await idOf(early!.shopper), key: 0.25 }])
      } else {
        expect(after.joins).toEqual([])
      }
      // The old rows still serve: the room reads its config, its token and its waiting shopper.
      const stats = await room.stats(saleId)
      const queued = after.withShuffle ? 2 : 1
      expect(stats).toMatchObject({ ok: true, value: { configured: true, tokensLoaded: 1, queued, shards: 1 } })
      const status = await room.status(saleId, shopper!.shopper)
      expect(status).toMatchObject({ ok: true, value: { saleId } })
    })
  }

  it('should leave the object at the last migration that applied when one fails', async () => {
    const failing = [
      ...MIGRATIONS,
      {
        version: SCHEMA_VERSION + 1,
        name: 'broken',
        up(sql: SqlStorage) {
          sql.exec(`CREATE TABLE half_done (x INTEGER)`)
          sql.exec(`THIS IS NOT SQL`)
        },
      },
    ]

    const result = await runInDurableObject(roomStub(uniqueSaleId('fail')), (_i, state) => {
      let error: unknown = null
      try {
        migrate(state.storage, failing)
      } catch (err) {
        error = err
      }
      const sql = state.storage.sql
      return {
        failed: error !== null,
        version: sql.exec<{ v: number }>(`SELECT MAX(version) AS v FROM schema_migrations`).one().v,
        halfDone: sql.exec(`SELECT 1 FROM sqlite_master WHERE name = 'half_done'`).toArray().length,
      }
    })

    expect(result).toEqual({ failed: true, version: SCHEMA_VERSION, halfDone: 0 })
  })
})
