import pg from 'pg'

const NO_FLUSH = '-c synchronous_commit=off'

/**
 * A small pool whose sessions commit without waiting for the WAL flush (`synchronous_commit = off`), for
 * records that are safe to lose with a Postgres crash (see SagaStore). One statement is one round trip,
 * where `BEGIN; SET LOCAL synchronous_commit = off; ...; COMMIT` on the main pool took four. Options already
 * in the URL (a schema's search_path) are kept: pg lets the URL's `options` override the config's.
 */
export function progressPool(connectionString: string, max = 4): pg.Pool {
  const url = new URL(connectionString)
  const options = url.searchParams.get('options')
  url.searchParams.set('options', options ? `${options} ${NO_FLUSH}` : NO_FLUSH)
  return new pg.Pool({ connectionString: url.toString(), max })
}
