import { createRequire } from 'node:module'
import { Client } from '@elastic/elasticsearch'
import Mock from '@elastic/elasticsearch-mock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config.ts'
import { createLogger } from '../logger.ts'
import { startTestCore, type TestCore } from '../../test/support/core.ts'
import { call } from '../catalog/fixtures.ts'
import { ElasticsearchEngine } from './elasticsearch-engine.ts'
import { PostgresSearchEngine } from './postgres-engine.ts'
import { createSearchEngine } from './storefront.ts'

const { errors } = createRequire(import.meta.url)('@elastic/elasticsearch') as typeof import('@elastic/elasticsearch')

describe('when choosing the search engine by configuration', () => {
  it('should use Postgres by default and Elasticsearch when asked, which then needs ES_URL', () => {
    const logger = createLogger('silent')
    expect(createSearchEngine(loadConfig({}), null as never, logger)).toBeInstanceOf(PostgresSearchEngine)
    expect(() => loadConfig({ SEARCH_ENGINE: 'elasticsearch' })).toThrow(
      /ES_URL: required when SEARCH_ENGINE=elasticsearch/,
    )
    expect(() => loadConfig({ ES_INDEX: 'Bad Index' })).toThrow(/ES_INDEX/)
    const es = createSearchEngine(
      loadConfig({ SEARCH_ENGINE: 'elasticsearch', ES_URL: 'http://127.0.0.1:9200' }),
      null as never,
      logger,
    )
    expect(es).toBeInstanceOf(ElasticsearchEngine)
    return es.close()
  })
})

describe('when Elasticsearch is down', () => {
  let core: TestCore
  beforeAll(async () => {
    const mock = new Mock()
    mock.add(
      { method: ['GET', 'HEAD', 'POST', 'PUT'], path: '*' },
      () => new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200'),
    )
    const client = new Client({ node: 'http://es.test:9200', Connection: mock.getConnection(), maxRetries: 0 })
    core = await startTestCore(
      { SEARCH_SYNC_INTERVAL_MS: '3600000' },
      { searchEngine: new ElasticsearchEngine({ client, alias: 'products' }) },
    )
  })
  afterAll(async () => {
    await core?.destroy()
  })

  it('should still start, and answer searches 503 unavailable with Retry-After', async () => {
    for (const path of ['/v1/search?q=x', '/v1/search/suggest?q=x']) {
      const res = await call(core, 'GET', path)
      expect(res.status, path).toBe(503)
      expect(res.json.error.code).toBe('unavailable')
      expect(res.headers.get('retry-after')).toBe('1')
    }
    expect((await call(core, 'GET', '/v1/categories')).status).toBe(200)
  })
})
