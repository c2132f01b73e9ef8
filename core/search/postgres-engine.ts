/**
 * Search on Postgres (the default engine). Documents live in `search_documents`: a weighted tsvector (name A,
 * brand and categories B, attributes C, description D; GIN), the folded name (pg_trgm GIN). Typos are mended
 * before matching: each query word that is not a known word (`search_terms`, or the same English stem) is
 * replaced by its closest known words by trigram similarity, which is also the "did you mean". The last word
 * matches as a prefix, for search-as-you-type. If every word must match and nothing does, any word may; if
 * still nothing, the folded names are compared by trigram word similarity.
 */
import type pg from 'pg'
import {
  PRICE_BUCKETS,
  type SearchDocument,
  type SearchQuery,
  type SearchResponse,
  type SuggestResponse,
} from '../../contracts/index.ts'
import { decodeCursor, encodeCursor, numericKey, textKey } from '../catalog/cursor.ts'
import { toSummary, type SummaryRow } from '../catalog/catalog-listing.ts'
import { withTransaction } from '../db/transaction.ts'
import { selectedBucket, words, type SearchEngine, type UpsertResult } from './engine.ts'

type Db = pg.Pool | pg.PoolClient

/** Shortest word a typo is mended in (trigrams say little about shorter ones). */
const MIN_CORRECTED_LENGTH = 3
/** Trigram word similarity a name needs in the last-resort match. */
const NAME_SIMILARITY = 0.35
const FACET_SIZE = 30
/** ts_rank weights of D, C, B, A. */
const RANK_WEIGHTS = '{0.1, 0.2, 0.4, 1.0}'

const UPSERT = `
  WITH input AS (
    SELECT * FROM unnest($1::int[], $2::int[], $3::boolean[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::int[],
                         $15::text[],
                         $16::boolean[], $17::text[], $18::text[], $19::timestamptz[])
      AS t(product_id, version, active, slug, name, brand, description, attributes, category_slug, category_name,
           category_slugs, category_names, price_cents, list_price_cents, currency, in_stock, image, sku, created_at)
  ), written AS (
    INSERT INTO search_documents AS d (product_id, version, active, slug, name, brand, category_slug, category_name,
                                       category_slugs, price_cents, list_price_cents, currency, in_stock, image, sku,
                                       created_at, name_folded, document)
    SELECT product_id, version, active, slug, name, brand, category_slug, category_name,
           ARRAY(SELECT jsonb_array_elements_text(category_slugs::jsonb)), price_cents, list_price_cents, currency,
           in_stock, image::jsonb, sku, created_at, search_fold(name),
           setweight(to_tsvector('english', search_fold(name)), 'A')
             || setweight(to_tsvector('english', search_fold(brand || ' ' || category_names)), 'B')
             || setweight(to_tsvector('english', search_fold(attributes)), 'C')
             || setweight(to_tsvector('english', search_fold(description)), 'D')
      FROM input
    ON CONFLICT (product_id) DO UPDATE SET
      version = EXCLUDED.version, active = EXCLUDED.active, slug = EXCLUDED.slug, name = EXCLUDED.name,
      brand = EXCLUDED.brand, category_slug = EXCLUDED.category_slug, category_name = EXCLUDED.category_name,
      category_slugs = EXCLUDED.category_slugs,
      price_cents = EXCLUDED.price_cents, list_price_cents = EXCLUDED.list_price_cents, currency = EXCLUDED.currency,
      in_stock = EXCLUDED.in_stock, image = EXCLUDED.image, sku = EXCLUDED.sku, created_at = EXCLUDED.created_at,
      name_folded = EXCLUDED.name_folded, document = EXCLUDED.document, indexed_at = now()
    WHERE d.version < EXCLUDED.version
    RETURNING product_id
  ), terms AS (
    INSERT INTO search_terms (term, stem)
    SELECT DISTINCT w, search_stem(w)
      FROM input,
           regexp_split_to_table(search_fold(name || ' ' || brand || ' ' || category_names || ' ' || attributes),
                                 '[^a-z0-9]+') AS w
     WHERE active AND length(w) >= 2
    ON CONFLICT (term) DO NOTHING
  )
  SELECT count(*)::int AS applied FROM written`

/**
 * Per query word: known (as is, or by its stem), a prefix of a known word (last word only), its closest known
 * words.
 */
const ANALYZE = `
  SELECT w.word,
         EXISTS (SELECT 1 FROM search_terms t WHERE t.term = w.word OR t.stem = search_stem(w.word)) AS known,
         (w.ord = $2 AND EXISTS (SELECT 1 FROM search_terms t WHERE t.term LIKE w.word || '%')) AS prefix,
         ARRAY(SELECT t.term FROM search_terms t
                WHERE length(w.word) >= ${MIN_CORRECTED_LENGTH} AND t.term OPERATOR(public.%) w.word
                ORDER BY public.similarity(t.term, w.word) DESC, t.term LIMIT 3) AS corrections
    FROM unnest($1::text[]) WITH ORDINALITY AS w(word, ord)
   ORDER BY w.ord`

interface Analysis {
  word: string
  known: boolean
  prefix: boolean
  corrections: string[]
}

interface Plan {
  /** OR-groups of words, all required (to_tsquery text, English config), or null when the query has no words. */
  groups: string[][]
  didYouMean: string | null
}

/** Turns the analysis into tsquery groups and the "did you mean" text. */
function plan(analysis: Analysis[], lastIsPrefix: boolean): Plan {
  let corrected = false
  const groups = analysis.map((a, i) => {
    const last = lastIsPrefix && i === analysis.length - 1
    if (a.known) return last ? [a.word, `${a.word}:*`] : [a.word]
    if (last && a.prefix) return [`${a.word}:*`]
    if (a.corrections.length) {
      corrected = true
      return last ? [...a.corrections, `${a.word}:*`] : a.corrections
    }
    return [a.word]
  })
  const didYouMean = corrected
    ? analysis.map((a) => (!a.known && !(a.prefix && lastIsPrefix) && a.corrections[0]) || a.word).join(' ')
    : null
  return { groups, didYouMean }
}

const tsquery = (groups: string[][], join: ' & ' | ' | ') =>
  groups.map((g) => (g.length === 1 ? g[0] : `(${g.join(' | ')})`)).join(join)

interface HitRow extends SummaryRow {
  score: string
}

export class PostgresSearchEngine implements SearchEngine {
  readonly name = 'postgres' as const

  constructor(private readonly db: pg.Pool) {}

  async ensureReady(): Promise<void> {}
  async close(): Promise<void> {}

  private async write(db: Db, docs: SearchDocument[]): Promise<number> {
    if (!docs.length) return 0
    const col = <K extends keyof SearchDocument>(k: K) => docs.map((d) => d[k])
    const { rows } = await db.query<{ applied: number }>(UPSERT, [
      col('productId'),
      col('version'),
      col('active'),
      col('slug'),
      col('name'),
      col('brand'),
      col('description'),
      col('attributes'),
      col('categorySlug'),
      col('categoryName'),
      docs.map((d) => JSON.stringify(d.categorySlugs)),
      docs.map((d) => d.categoryNames.join(' ')),
      col('priceCents'),
      col('listPriceCents'),
      col('currency'),
      col('inStock'),
      docs.map((d) => (d.image ? JSON.stringify(d.image) : null)),
      col('sku'),
      col('createdAt'),
    ])
    return rows[0]!.applied
  }

  async upsert(docs: SearchDocument[]): Promise<UpsertResult> {
    let applied = 0
    for (let i = 0; i < docs.length; i += 1000) applied += await this.write(this.db, docs.slice(i, i + 1000))
    return { applied, stale: docs.length - applied }
  }

  /** Replaces every document and the vocabulary in one transaction: readers see the old index until COMMIT. */
  async reindex(batches: AsyncIterable<SearchDocument[]>): Promise<{ index: string; documents: number }> {
    return withTransaction(this.db, async (client) => {
      await client.query('DELETE FROM search_documents')
      await client.query('DELETE FROM search_terms')
      let documents = 0
      for await (const batch of batches) documents += await this.write(client, batch)
      return { index: 'search_documents', documents }
    })
  }

  async status(): Promise<{ index: string; documents: number }> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM search_documents WHERE active')
    return { index: 'search_documents', documents: rows[0]!.n }
  }

  async search(query: SearchQuery): Promise<SearchResponse> {
    const queryWords = words(query.q).slice(0, 12)
    const lastIsPrefix = queryWords.length > 0 && !/\s$/.test(query.q)
    let didYouMean: string | null = null
    let groups: string[][] = []
    if (queryWords.length) {
      const { rows } = await this.db.query<Analysis>(ANALYZE, [queryWords, queryWords.length])
      ;({ groups, didYouMean } = plan(rows, lastIsPrefix))
    }
    const folded = queryWords.join(' ')
    if (!groups.length) return (await this.run(query, { kind: 'all' }, null)).response
    // Looser matches only when the words match nothing at all (not when the filters leave nothing).
    const every = await this.run(query, { kind: 'text', tsquery: tsquery(groups, ' & '), folded }, didYouMean)
    if (every.matched > 0) return every.response
    if (groups.length > 1) {
      const any = await this.run(query, { kind: 'text', tsquery: tsquery(groups, ' | '), folded }, didYouMean)
      if (any.matched > 0) return any.response
    }
    return (await this.run(query, { kind: 'name', folded }, didYouMean)).response
  }

  /**
   * One statement: the matching set once, then the page, the total and each facet over it. `matched`: how many
   * documents the words matched before the facet filters.
   */
  private async run(
    query: SearchQuery,
    match: { kind: 'all' } | { kind: 'text'; tsquery: string; folded: string } | { kind: 'name'; folded: string },
    didYouMean: string | null,
  ): Promise<{ response: SearchResponse; matched: number }> {
    const params: unknown[] = []
    const bind = (value: unknown) => {
      params.push(value)
      return `$${params.length}`
    }
    const where = ['d.active']
    let score = '0::numeric'
    if (match.kind === 'text') {
      const tsq = `to_tsquery('english', ${bind(match.tsquery)})`
      const q = bind(match.folded)
      where.push(`d.document @@ ${tsq}`)
      const rank = `ts_rank('${RANK_WEIGHTS}', d.document, ${tsq})`
      score = `round((${rank} + 0.5 * public.word_similarity(${q}, d.name_folded))::numeric, 6)`
    } else if (match.kind === 'name') {
      const q = bind(match.folded)
      where.push(`public.word_similarity(${q}, d.name_folded) > ${NAME_SIMILARITY}`)
      score = `round(public.word_similarity(${q}, d.name_folded)::numeric, 6)`
    }
    const stockOk = query.inStock !== undefined ? `d.in_stock = ${bind(query.inStock)}::boolean` : 'true'
    const brandOk = query.brand?.length ? `d.brand = ANY(${bind(query.brand)}::text[])` : 'true'
    const categoryOk = query.category?.length ? `d.category_slugs && ${bind(query.category)}::text[]` : 'true'
    const priceOk =
      [
        query.priceMin !== undefined ? `d.price_cents >= ${bind(query.priceMin)}::int` : '',
        query.priceMax !== undefined ? `d.price_cents <= ${bind(query.priceMax)}::int` : '',
      ]
        .filter(Boolean)
        .join(' AND ') || 'true'

    const sort = match.kind === 'all' && query.sort === 'relevance' ? 'newest' : query.sort
    const rawKey = decodeCursor(query.cursor, query.sort)
    let after = 'true'
    if (rawKey) {
      if (sort === 'name') {
        const [v, id] = textKey(rawKey)
        after = `(name, id) > (${bind(v)}::text, ${bind(id)}::int)`
      } else {
        const [v, id] = numericKey(rawKey)
        const keysets: Record<Exclude<typeof sort, 'name'>, () => string> = {
          relevance: () => {
            const s = bind(v)
            return `(score < ${s}::numeric OR (score = ${s}::numeric AND id > ${bind(id)}::int))`
          },
          newest: () => `id < ${bind(id)}::int`,
          price_asc: () => `(price_cents, id) > (${bind(v)}::int, ${bind(id)}::int)`,
          price_desc: () => {
            const p = bind(v)
            return `(price_cents < ${p}::int OR (price_cents = ${p}::int AND id > ${bind(id)}::int))`
          },
        }
        after = keysets[sort]()
      }
    }
    const order = {
      relevance: 'score DESC, id',
      newest: 'id DESC',
      price_asc: 'price_cents, id',
      price_desc: 'price_cents DESC, id',
      name: 'name, id',
    }[sort]
    const buckets = PRICE_BUCKETS.map((b) => {
      const bounds = [b.from === null ? '' : `price_cents >= ${b.from}`, b.to === null ? '' : `price_cents < ${b.to}`]
      return `'${b.key}', count(*) FILTER (WHERE ${bounds.filter(Boolean).join(' AND ')})`
    }).join(', ')

    const { rows } = await this.db.query<{
      matched: number
      total: number
      hits: HitRow[] | null
      brands: Array<{ value: string; count: number }> | null
      categories: Array<{ value: string; label: string; count: number }> | null
      prices: Record<string, number>
    }>(
      `WITH m AS MATERIALIZED (
         SELECT d.product_id AS id, d.slug, d.name, d.brand, d.price_cents, d.list_price_cents, d.currency, d.image,
                d.sku AS default_sku, d.category_slug, d.category_name, ${score} AS score,
                ${brandOk} AS b_ok, ${categoryOk} AS c_ok, ${priceOk} AS p_ok, ${stockOk} AS s_ok
           FROM search_documents d
          WHERE ${where.join(' AND ')}
       )
       SELECT
         (SELECT count(*)::int FROM m) AS matched,
         (SELECT count(*)::int FROM m WHERE s_ok AND b_ok AND c_ok AND p_ok) AS total,
         (SELECT json_agg(h) FROM (SELECT * FROM m WHERE s_ok AND b_ok AND c_ok AND p_ok AND ${after}
                                    ORDER BY ${order} LIMIT ${query.limit + 1}) h) AS hits,
         (SELECT json_agg(f) FROM (SELECT brand AS value, count(*)::int AS count FROM m WHERE s_ok AND c_ok AND p_ok
                                    GROUP BY brand ORDER BY count(*) DESC, brand LIMIT ${FACET_SIZE}) f) AS brands,
         (SELECT json_agg(f) FROM (SELECT category_slug AS value, category_name AS label, count(*)::int AS count FROM m
                                    WHERE s_ok AND b_ok AND p_ok GROUP BY category_slug, category_name
                                    ORDER BY count(*) DESC, category_slug LIMIT ${FACET_SIZE}) f) AS categories,
         (SELECT json_build_object(${buckets}) FROM m WHERE s_ok AND b_ok AND c_ok) AS prices`,
      params,
    )
    const r = rows[0]!
    const page = r.hits ?? []
    const shown = page.slice(0, query.limit)
    const last = shown.at(-1)
    const keyOf = (h: HitRow): number | string =>
      ({ relevance: Number(h.score), newest: h.id, price_asc: h.price_cents, price_desc: h.price_cents, name: h.name })[
        sort
      ]
    const selectedPrice = selectedBucket(query)
    const response: SearchResponse = {
      q: query.q,
      hits: shown.map(toSummary),
      total: r.total,
      facets: {
        brand: (r.brands ?? []).map((b) => ({
          value: b.value,
          label: b.value,
          count: b.count,
          selected: query.brand?.includes(b.value) ?? false,
        })),
        category: (r.categories ?? []).map((c) => ({ ...c, selected: query.category?.includes(c.value) ?? false })),
        price: PRICE_BUCKETS.map((b) => ({
          key: b.key,
          from: b.from,
          to: b.to,
          count: Number(r.prices[b.key] ?? 0),
          selected: selectedPrice === b.key,
        })),
      },
      didYouMean,
      nextCursor: page.length > query.limit && last ? encodeCursor(query.sort, [keyOf(last), last.id]) : null,
      sort: query.sort,
      engine: 'postgres',
    }
    return { response, matched: r.matched }
  }

  /** Names starting with the typed words (the last one as a prefix); by trigram similarity when none do. */
  async suggest(q: string, limit: number): Promise<SuggestResponse> {
    const typed = words(q).slice(0, 8)
    if (!typed.length) return { q, suggestions: [] }
    const prefixQuery = typed.map((w, i) => (i === typed.length - 1 ? `${w}:*A` : `${w}:A`)).join(' & ')
    const { rows } = await this.db.query<{ text: string; slug: string }>(
      `SELECT name AS text, slug FROM search_documents
        WHERE active AND document @@ to_tsquery('english', $1)
        ORDER BY ts_rank('${RANK_WEIGHTS}', document, to_tsquery('english', $1)) DESC, length(name), name
        LIMIT $2`,
      [prefixQuery, limit],
    )
    if (rows.length) return { q, suggestions: rows }
    const { rows: similar } = await this.db.query<{ text: string; slug: string }>(
      `SELECT name AS text, slug FROM search_documents
        WHERE active AND public.word_similarity($1, name_folded) > ${NAME_SIMILARITY}
        ORDER BY public.word_similarity($1, name_folded) DESC, name LIMIT $2`,
      [typed.join(' '), limit],
    )
    return { q, suggestions: similar }
  }
}
