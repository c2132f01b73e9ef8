/**
 * The room's SQLite schema as numbered migrations. Each object records the ones it has applied in its own
 * storage (`schema_migrations`) and applies the rest, in order, once per wake-up, inside
 * `blockConcurrencyWhile` (see WaitingRoom's constructor), each in its own transaction with its record.
 *
 * Append-only: never edit a shipped migration; add the next number. Objects created before migrations were
 * numbered have no `schema_migrations` table; migrations 1 and 2 are written so that such an object (the first
 * tables only, or any of the columns added since) comes out exactly like a new one.
 */

export type Migration = { version: number; name: string; up: (sql: SqlStorage) => void }

const run = (statements: string[]) => (sql: SqlStorage) => {
  for (const statement of statements) sql.exec(statement)
}

const ADD_COLUMN = /^ALTER TABLE (\w+) ADD COLUMN (\w+) /

/**
 * Runs each `ALTER TABLE t ADD COLUMN c ...` only where `t` has no column `c` yet: SQLite has no
 * ADD COLUMN IF NOT EXISTS, and objects from before numbered migrations hold any subset of these columns.
 */
const addMissingColumns = (statements: string[]) => (sql: SqlStorage) => {
  for (const statement of statements) {
    const [, table, column] = ADD_COLUMN.exec(statement) ?? []
    if (table === undefined || column === undefined) throw new Error(`not an ADD COLUMN statement: ${statement}`)
    const has = sql.exec(`SELECT 1 FROM pragma_table_info(?) WHERE name = ?`, table, column).toArray().length > 0
    if (!has) sql.exec(statement)
  }
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'room, tokens, queue and issuance tables',
    up: run([
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
    ]),
  },
  {
    version: 2,
    name: 'shards, steering, shuffle, per-network cap, lending (columns added before migrations were numbered)',
    up(sql) {
      addMissingColumns([
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
      ])(sql)
      run([
        // Places taken before `ord` existed were first come, first served.
        `UPDATE queue SET ord = 1 + seq WHERE ord IS NULL`,
        `CREATE INDEX IF NOT EXISTS queue_by_ord_seq ON queue (state, ord, seq)`,
        `CREATE INDEX IF NOT EXISTS queue_by_ip ON queue (ip)`,
      ])(sql)
    },
  },
  {
    version: 3,
    name: 'public fairness proof: public ids, a pre-queue join list that outlives requeues',
    up: run([
      `ALTER TABLE queue ADD COLUMN public_id TEXT`,
      `ALTER TABLE issuance ADD COLUMN public_id TEXT`,
      `CREATE TABLE prequeue_joins (
         seq INTEGER PRIMARY KEY,
         shopper TEXT NOT NULL,
         public_id TEXT,
         joined_at INTEGER NOT NULL,
         key REAL
       )`,
      // The shuffle key of a place drawn by the shuffle is its ord (< 1); a fifo pre-queue has none.
      `INSERT INTO prequeue_joins (seq, shopper, joined_at, key)
       SELECT seq, shopper, joined_at, CASE WHEN ord < 1 THEN ord END FROM queue WHERE pre = 1`,
      `CREATE INDEX queue_by_public_id ON queue (public_id)`,
      `CREATE INDEX issuance_by_public_id ON issuance (public_id)`,
      `CREATE INDEX prequeue_joins_by_public_id ON prequeue_joins (public_id)`,
      `CREATE INDEX prequeue_joins_by_key ON prequeue_joins (key)`,
    ]),
  },
  {
    version: 4,
    name: 'who may join (join policy) and when the pre-queue opened',
    up: run([
      `ALTER TABLE room ADD COLUMN join_policy TEXT NOT NULL DEFAULT 'anonymous'`,
      `ALTER TABLE room ADD COLUMN configured_at INTEGER`,
    ]),
  },
]

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version

/**
 * Brings the object's schema to SCHEMA_VERSION: applies every migration it has not recorded, in order, each
 * with its record in one transaction (a failure leaves the object at the last version that applied).
 * Returns the version the object is at afterwards.
 */
/** Whether this object ever had a schema (numbered, or the first tables from before numbering). */
export function schemaExists(storage: DurableObjectStorage): boolean {
  const found = storage.sql.exec(
    `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ('schema_migrations', 'room') LIMIT 1`,
  )
  return found.toArray().length > 0
}

export function migrate(storage: DurableObjectStorage, migrations: Migration[] = MIGRATIONS): number {
  const sql = storage.sql
  sql.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version INTEGER PRIMARY KEY,
       name TEXT NOT NULL,
       applied_at INTEGER NOT NULL
     )`,
  )
  const applied = new Set(
    sql
      .exec<{ version: number }>(`SELECT version FROM schema_migrations`)
      .toArray()
      .map((r) => r.version),
  )
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue
    storage.transactionSync(() => {
      migration.up(sql)
      sql.exec(
        `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
        migration.version,
        migration.name,
        Date.now(),
      )
    })
  }
  return sql.exec<{ v: number | null }>(`SELECT MAX(version) AS v FROM schema_migrations`).one().v ?? 0
}
