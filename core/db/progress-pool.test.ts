import { afterAll, describe, expect, it } from 'vitest'
import { DATABASE_URL, createSchema, dropSchema, uniqueName } from '../../test/support/services.ts'
import { progressPool } from './progress-pool.ts'

describe('progressPool', () => {
  const schema = uniqueName('progress_pool')
  const pools: Array<{ end(): Promise<void> }> = []
  afterAll(async () => {
    for (const pool of pools) await pool.end()
    await dropSchema(schema)
  })

  it("commits without waiting for the WAL flush and keeps the URL's own options (a schema's search_path)", async () => {
    const pool = progressPool(await createSchema(schema))
    pools.push(pool)
    const { rows } = await pool.query(
      "SELECT current_setting('synchronous_commit') AS sync, current_setting('search_path') AS path",
    )
    expect(rows[0]).toEqual({ sync: 'off', path: schema })
  })

  it('sets only that on a URL without options', async () => {
    const pool = progressPool(DATABASE_URL)
    pools.push(pool)
    const { rows } = await pool.query("SELECT current_setting('synchronous_commit') AS sync")
    expect(rows[0].sync).toBe('off')
  })
})
