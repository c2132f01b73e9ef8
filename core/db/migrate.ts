import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'

const CORE_DIR = fileURLToPath(new URL('../', import.meta.url))
// Any constant works; it only has to be the same for every process that migrates this database.
const MIGRATION_LOCK = 7_141_001

/**
 * Every `NNN_name.sql` migration: the platform's own (`core/db/migrations`) and each domain's
 * (`core/<domain>/migrations`), ordered by file name. Numbers are one sequence across domains.
 */
export function migrationFiles(): Array<{ name: string; path: string }> {
  const files: Array<{ name: string; path: string }> = []
  for (const entry of readdirSync(CORE_DIR, { withFileTypes: true })) {
    const dir = join(CORE_DIR, entry.name, 'migrations')
    if (!entry.isDirectory() || !existsSync(dir)) continue
    for (const name of readdirSync(dir)) if (/^\d{3}_.+\.sql$/.test(name)) files.push({ name, path: join(dir, name) })
  }
  const names = files.map((f) => f.name.slice(0, 3))
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice) throw new Error(`two migrations are numbered ${twice}: numbers are one sequence across core/*/migrations`)
  return files.sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * Applies the migrations (`migrationFiles`) in order, each once, each in its own transaction.
 * An advisory lock lets several processes start at the same time safely.
 */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const client = await pool.connect()
  const applied: string[] = []
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    )
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
    )
    for (const { name: file, path } of migrationFiles()) {
      if (done.has(file)) continue
      await client.query('BEGIN')
      try {
        await client.query(readFileSync(path, 'utf8'))
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file])
        await client.query('COMMIT')
        applied.push(file)
      } catch (error) {
        await client.query('ROLLBACK')
        throw new Error(`migration ${file} failed: ${(error as Error).message}`)
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {})
    client.release()
  }
  return applied
}
