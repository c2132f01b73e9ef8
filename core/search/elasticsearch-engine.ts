/**
 * Search on Elasticsearch, through the official `@elastic/elasticsearch` client (9.x: talks to Elasticsearch 9.x
 * servers; docker-compose.yml runs one). Readers use an alias (`ES_INDEX`) over a versioned index
 * (`<alias>_v<N>`): a reindex builds `_v<N+1>` beside it and swaps the alias in one atomic call. Documents are
 * written with `version_type: external` (the catalog's product version), so a late, older write is refused
 * by Elasticsearch itself.
 *
 * Query: `multi_match` with `fuzziness: AUTO` over name, brand, categories, attributes and description, or the
 * name's `edge_ngram` field for a word still being typed, plus a boosted phrase clause (a `should`, so typos
 * still match). Facets are aggregations, each filtered by the selected facets except its own, while the
 * selected facets filter the hits in `post_filter`. Pages continue with `search_after`.
 */
import { Client } from '@elastic/elasticsearch'
import {
  PRICE_BUCKETS,
  type SearchDocument,
  type SearchQuery,
  type SearchResponse,
  type SearchSort,
  type SuggestResponse,
} from '../../contracts/index.ts'
import { decodeCursor, encodeCursor } from '../catalog/cursor.ts'
import type { Logger } from '../logger.ts'
import { selectedBucket, words, type SearchEngine, type UpsertResult } from './engine.ts'

type Json = Record<string, unknown>
const FACET_SIZE = 30

export const INDEX_SETTINGS = {
  analysis: {
    filter: {
      autocomplete_ngram: { type: 'edge_ngram', min_gram: 2, max_gram: 15 },
      english_stemmer: { type: 'stemmer', language: 'english' },
      english_stop: { type: 'stop', stopwords: '_english_' },
    },
    analyzer: {
      folding: { type: 'custom', tokenizer: 'standard', filter: ['lowercase', 'asciifolding'] },
      folding_english: {
        type: 'custom',
        tokenizer: 'standard',
        filter: ['lowercase', 'asciifolding', 'english_stop', 'english_stemmer'],
      },
      autocomplete: {
        type: 'custom',
        tokenizer: 'standard',
        filter: ['lowercase', 'asciifolding', 'autocomplete_ngram'],
      },
    },
  },
}

export const INDEX_MAPPINGS = {
  dynamic: 'strict',
  properties: {
    product_id: { type: 'integer' },
    version: { type: 'integer' },
    active: { type: 'boolean' },
    slug: { type: 'keyword' },
    name: {
      type: 'text',
      analyzer: 'folding_english',
      fields: {
        keyword: { type: 'keyword' },
        plain: { type: 'text', analyzer: 'folding' },
        autocomplete: { type: 'text', analyzer: 'autocomplete', search_analyzer: 'folding' },
      },
    },
    brand: { type: 'keyword', fields: { text: { type: 'text', analyzer: 'folding_english' } } },
    description: { type: 'text', analyzer: 'folding_english' },
    attributes: { type: 'text', analyzer: 'folding_english' },
    category_id: { type: 'integer' },
    category_slug: { type: 'keyword' },
    category_name: { type: 'keyword' },
    category_slugs: { type: 'keyword' },
    category_names: { type: 'text', analyzer: 'folding_english' },
    price_cents: { type: 'integer' },
    list_price_cents: { type: 'integer' },
    currency: { type: 'keyword' },
    in_stock: { type: 'boolean' },
    image: { type: 'object', enabled: false },
    sku: { type: 'keyword' },
    created_at: { type: 'date' },
  },
} as const

interface Source {
  product_id: number
  version: number
  active: boolean
  slug: string
  name: string
  brand: string
  description: string
  attributes: string
  category_id: number
  category_slug: string
  category_name: string
  category_slugs: string[]
  category_names: string
  price_cents: number
  list_price_cents: number
  currency: string
  in_stock: boolean
  image: SearchDocument['image']
  sku: string
  created_at: string
}

export function toSource(d: SearchDocument): Source {
  return {
    product_id: d.productId,
    version: d.version,
    active: d.active,
    slug: d.slug,
    name: d.name,
    brand: d.brand,
    description: d.description,
    attributes: d.attributes,
    category_id: d.categoryId,
    category_slug: d.categorySlug,
    category_name: d.categoryName,
    category_slugs: d.categorySlugs,
    category_names: d.categoryNames.join(' '),
    price_cents: d.priceCents,
    list_price_cents: d.listPriceCents,
    currency: d.currency,
    in_stock: d.inStock,
    image: d.image,
    sku: d.sku,
    created_at: d.createdAt,
  }
}

const SORTS: Record<SearchSort, Json[]> = {
  relevance: [{ _score: 'desc' }, { product_id: 'asc' }],
  newest: [{ product_id: 'desc' }],
  price_asc: [{ price_cents: 'asc' }, { product_id: 'asc' }],
  price_desc: [{ price_cents: 'desc' }, { product_id: 'asc' }],
  name: [{ 'name.keyword': 'asc' }, { product_id: 'asc' }],
}

/** The filters of each facet dimension, and every query filter that is not a facet. */
export function searchFilters(query: SearchQuery) {
  const brand = query.brand?.length ? { terms: { brand: query.brand } } : null
  const category = query.category?.length ? { terms: { category_slugs: query.category } } : null
  const range: Json = {}
  if (query.priceMin !== undefined) range.gte = query.priceMin
  if (query.priceMax !== undefined) range.lte = query.priceMax
  const price = Object.keys(range).length ? { range: { price_cents: range } } : null
  const always: Json[] = [{ term: { active: true } }]
  if (query.inStock !== undefined) always.push({ term: { in_stock: query.inStock } })
  return { brand, category, price, always }
}

/** The whole search request body for a query (exported for the request-shape tests). */
export function searchRequest(index: string, query: SearchQuery): Json {
  const text = words(query.q).join(' ')
  const f = searchFilters(query)
  const all = (...filters: Array<Json | null>) => ({ bool: { filter: filters.filter((x): x is Json => x !== null) } })
  const match: Json = text
    ? {
        bool: {
          should: [
            {
              multi_match: {
                query: text,
                fields: ['name^3', 'brand.text^2', 'category_names^1.5', 'attributes', 'description^0.5'],
                fuzziness: 'AUTO',
                prefix_length: 1,
                operator: 'and',
              },
            },
            { match: { 'name.autocomplete': { query: text, operator: 'and' } } },
          ],
          minimum_should_match: 1,
        },
      }
    : { match_all: {} }
  const sort = !text && query.sort === 'relevance' ? 'newest' : query.sort
  const searchAfter = decodeCursor(query.cursor, query.sort)
  return {
    index,
    // One more than the page: whether there is a next page is known without asking again.
    size: query.limit + 1,
    track_total_hits: true,
    _source: [
      'product_id',
      'slug',
      'name',
      'brand',
      'category_slug',
      'category_name',
      'price_cents',
      'list_price_cents',
      'currency',
      'image',
      'sku',
    ],
    query: {
      bool: {
        must: [match],
        filter: f.always,
        ...(text
          ? { should: [{ multi_match: { query: text, type: 'phrase', fields: ['name^3', 'brand.text'], boost: 3 } }] }
          : {}),
      },
    },
    post_filter: all(f.brand, f.category, f.price),
    aggs: {
      brand: { filter: all(f.category, f.price), aggs: { values: { terms: { field: 'brand', size: FACET_SIZE } } } },
      category: {
        filter: all(f.brand, f.price),
        aggs: {
          values: {
            terms: { field: 'category_slug', size: FACET_SIZE },
            aggs: { label: { terms: { field: 'category_name', size: 1 } } },
          },
        },
      },
      price: {
        filter: all(f.brand, f.category),
        aggs: {
          values: {
            range: {
              field: 'price_cents',
              ranges: PRICE_BUCKETS.map((b) => ({
                key: b.key,
                ...(b.from === null ? {} : { from: b.from }),
                ...(b.to === null ? {} : { to: b.to }),
              })),
            },
          },
        },
      },
    },
    ...(text ? { suggest: { text, words: { term: { field: 'name.plain', suggest_mode: 'missing', size: 1 } } } } : {}),
    sort: SORTS[sort],
    ...(searchAfter ? { search_after: searchAfter } : {}),
  }
}

interface Bucket {
  key: string
  doc_count: number
  label?: { buckets: Array<{ key: string }> }
}

export interface ElasticsearchEngineOptions {
  /** An existing client (tests pass one wired to @elastic/elasticsearch-mock). */
  client?: Client
  node?: string
  apiKey?: string
  /** The alias readers use; physical indices are `<alias>_v<N>`. */
  alias: string
  logger?: Logger
}

export class ElasticsearchEngine implements SearchEngine {
  readonly name = 'elasticsearch' as const
  readonly client: Client
  private readonly alias: string
  /** Only a client the engine made is the engine's to close. */
  private readonly ownsClient: boolean
  private closing?: Promise<void>

  constructor(options: ElasticsearchEngineOptions) {
    this.alias = options.alias
    this.ownsClient = !options.client
    this.client =
      options.client ??
      new Client({
        node: options.node,
        ...(options.apiKey ? { auth: { apiKey: options.apiKey } } : {}),
        maxRetries: 3,
        requestTimeout: 10_000,
      })
  }

  /** The physical indices the alias points at now. */
  private async aliasedIndices(): Promise<string[]> {
    const exists = await this.client.indices.existsAlias({ name: this.alias })
    if (!exists) return []
    return Object.keys(await this.client.indices.getAlias({ name: this.alias }))
  }

  private createIndex(index: string, withAlias: boolean) {
    return this.client.indices.create({
      index,
      settings: INDEX_SETTINGS,
      mappings: INDEX_MAPPINGS,
      ...(withAlias ? { aliases: { [this.alias]: {} } } : {}),
    } as Parameters<Client['indices']['create']>[0])
  }

  async ensureReady(): Promise<void> {
    if ((await this.aliasedIndices()).length) return
    try {
      await this.createIndex(`${this.alias}_v1`, true)
    } catch (error) {
      // Another core process created it first.
      if (
        (error as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type !==
        'resource_already_exists_exception'
      )
        throw error
    }
  }

  async upsert(docs: SearchDocument[], index = this.alias): Promise<UpsertResult> {
    if (!docs.length) return { applied: 0, stale: 0 }
    const operations = docs.flatMap((d) => [
      { index: { _index: index, _id: String(d.productId), version: d.version, version_type: 'external' } },
      toSource(d),
    ])
    const response = await this.client.bulk({ operations } as Parameters<Client['bulk']>[0])
    let applied = 0
    let stale = 0
    const failures: string[] = []
    for (const item of response.items) {
      const result = item.index!
      if (result.status === 409) stale++
      else if (result.error) failures.push(`${result._id}: ${result.error.type} ${result.error.reason ?? ''}`.trim())
      else applied++
    }
    // Anything but a version conflict is a real failure: the drain keeps the batch queued and tries again.
    if (failures.length)
      throw new Error(
        `elasticsearch bulk: ${failures.length} of ${docs.length} failed (${failures.slice(0, 3).join('; ')})`,
      )
    return { applied, stale }
  }

  async reindex(batches: AsyncIterable<SearchDocument[]>): Promise<{ index: string; documents: number }> {
    const old = await this.aliasedIndices()
    const versions = old.map((name) => Number(/_v(\d+)$/.exec(name)?.[1] ?? 0))
    const index = `${this.alias}_v${Math.max(0, ...versions) + 1}`
    await this.createIndex(index, false)
    let documents = 0
    try {
      for await (const batch of batches) documents += (await this.upsert(batch, index)).applied
      await this.client.indices.refresh({ index })
      await this.client.indices.updateAliases({
        actions: [
          ...old.map((o) => ({ remove: { index: o, alias: this.alias } })),
          { add: { index, alias: this.alias } },
        ],
      })
    } catch (error) {
      await this.client.indices.delete({ index }).catch(() => undefined)
      throw error
    }
    for (const o of old) await this.client.indices.delete({ index: o })
    return { index, documents }
  }

  /** Makes every write so far searchable now (Elasticsearch does it by itself about once a second). */
  async refresh(): Promise<void> {
    await this.client.indices.refresh({ index: this.alias })
  }

  /** Deletes the alias and every index behind it (tests). */
  async destroy(): Promise<void> {
    for (const index of await this.aliasedIndices()) await this.client.indices.delete({ index })
  }

  async status(): Promise<{ index: string; documents: number }> {
    const [indices, count] = await Promise.all([
      this.aliasedIndices(),
      this.client.count({ index: this.alias, query: { term: { active: true } } }),
    ])
    return { index: indices[0] ?? this.alias, documents: count.count }
  }

  async search(query: SearchQuery): Promise<SearchResponse> {
    const request = searchRequest(this.alias, query)
    const response = (await this.client.search(request as Parameters<Client['search']>[0])) as unknown as {
      hits: { total: { value: number } | number; hits: Array<{ _source: Source; sort?: Array<number | string> }> }
      aggregations: Record<'brand' | 'category' | 'price', { values: { buckets: Bucket[] } }>
      suggest?: { words: Array<{ text: string; options: Array<{ text: string }> }> }
    }
    const hits = response.hits.hits.slice(0, query.limit)
    const more = response.hits.hits.length > query.limit
    const total = typeof response.hits.total === 'number' ? response.hits.total : response.hits.total.value
    const last = hits.at(-1)
    const corrections = response.suggest?.words ?? []
    const corrected = corrections.some((w) => w.options.length > 0)
    const selectedPrice = selectedBucket(query)
    const priceCounts = new Map(response.aggregations.price.values.buckets.map((b) => [b.key, b.doc_count]))
    return {
      q: query.q,
      hits: hits.map(({ _source: s }) => ({
        slug: s.slug,
        name: s.name,
        brand: s.brand,
        category: { slug: s.category_slug, name: s.category_name },
        priceCents: s.price_cents,
        listPriceCents: s.list_price_cents,
        currency: s.currency,
        image: s.image,
        sku: s.sku,
      })),
      total,
      facets: {
        brand: response.aggregations.brand.values.buckets.map((b) => ({
          value: b.key,
          label: b.key,
          count: b.doc_count,
          selected: query.brand?.includes(b.key) ?? false,
        })),
        category: response.aggregations.category.values.buckets.map((b) => ({
          value: b.key,
          label: b.label?.buckets[0]?.key ?? b.key,
          count: b.doc_count,
          selected: query.category?.includes(b.key) ?? false,
        })),
        price: PRICE_BUCKETS.map((b) => ({
          key: b.key,
          from: b.from,
          to: b.to,
          count: priceCounts.get(b.key) ?? 0,
          selected: selectedPrice === b.key,
        })),
      },
      didYouMean: corrected ? corrections.map((w) => w.options[0]?.text ?? w.text).join(' ') : null,
      nextCursor: more && last?.sort ? encodeCursor(query.sort, last.sort) : null,
      sort: query.sort,
      engine: 'elasticsearch',
    }
  }

  async suggest(q: string, limit: number): Promise<SuggestResponse> {
    const text = words(q).join(' ')
    if (!text) return { q, suggestions: [] }
    const response = await this.client.search<{ name: string; slug: string }>({
      index: this.alias,
      size: limit,
      _source: ['name', 'slug'],
      query: {
        bool: {
          must: [{ match: { 'name.autocomplete': { query: text, operator: 'and' } } }],
          filter: [{ term: { active: true } }],
        },
      },
    })
    return { q, suggestions: response.hits.hits.map((h) => ({ text: h._source!.name, slug: h._source!.slug })) }
  }

  close(): Promise<void> {
    this.closing ??= this.ownsClient ? this.client.close() : Promise.resolve()
    return this.closing
  }
}
