import type pg from 'pg'

/**
 * Runs `work` in one transaction on one pooled connection: COMMIT when it returns, ROLLBACK when it
 * throws (the error is rethrown), and the connection always goes back to the pool.
 */
export async function withTransaction<T>(db: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect()
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
