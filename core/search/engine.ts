/**
 * One search interface, two engines: Postgres (default: weighted tsvector + GIN, pg_trgm, unaccent) and
 * Elasticsearch (official client, alias + versioned indices). Both answer the same `SearchResponse`, with the
 * same facet rules (see `SearchFacets`), and both keep only the highest version of a document.
 */
import {
  PRICE_BUCKETS,
  type ReindexReport,
  type SearchDocument,
  type SearchQuery,
  type SearchResponse,
  type SuggestResponse,
} from '../../contracts/index.ts'

export type EngineName = 'postgres' | 'elasticsearch'

export interface UpsertResult {
  /** Documents written. */
  applied: number
  /** Documents refused because the index already had that version or a newer one. */
  stale: number
}

export interface SearchEngine {
  readonly name: EngineName
  /** Creates what the engine needs (the Elasticsearch index and alias); safe to call again. */
  ensureReady(): Promise<void>
  search(query: SearchQuery): Promise<SearchResponse>
  suggest(q: string, limit: number): Promise<SuggestResponse>
  /** Writes documents; a document whose version is not newer than the indexed one changes nothing. */
  upsert(docs: SearchDocument[]): Promise<UpsertResult>
  /**
   * Builds a complete new index from `batches` and switches readers to it at once (no moment without an index);
   * returns the new index's name and how many documents it holds.
   */
  reindex(batches: AsyncIterable<SearchDocument[]>): Promise<Omit<ReindexReport, 'replayed' | 'ms' | 'engine'>>
  /** The index readers use now and how many documents it holds. */
  status(): Promise<{ index: string; documents: number }>
  close(): Promise<void>
}

/** Words of a text as both engines see them: lowercase, accents folded, split on anything but a-z and 0-9. */
export function words(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
}

/** The price bucket a selected [priceMin, priceMax] range is exactly, if any (bucket `to` is exclusive). */
export function selectedBucket(query: Pick<SearchQuery, 'priceMin' | 'priceMax'>): string | null {
  for (const b of PRICE_BUCKETS) {
    const min = b.from ?? undefined
    const max = b.to === null ? undefined : b.to - 1
    if (query.priceMin === min && query.priceMax === max && (min !== undefined || max !== undefined)) return b.key
  }
  return null
}

/** Which price bucket a price falls in. */
export function bucketOf(priceCents: number): string {
  return PRICE_BUCKETS.find((b) => (b.from === null || priceCents >= b.from) && (b.to === null || priceCents < b.to))!
    .key
}

/** Whether a document passes each facet dimension's filter (the rules both engines implement). */
export function facetFilters(query: SearchQuery) {
  return {
    brand: (doc: Pick<SearchDocument, 'brand'>) => !query.brand?.length || query.brand.includes(doc.brand),
    category: (doc: Pick<SearchDocument, 'categorySlugs'>) =>
      !query.category?.length || doc.categorySlugs.some((s) => query.category!.includes(s)),
    price: (doc: Pick<SearchDocument, 'priceCents'>) =>
      (query.priceMin === undefined || doc.priceCents >= query.priceMin) &&
      (query.priceMax === undefined || doc.priceCents <= query.priceMax),
  }
}

/**
 * Whether an engine error means "the engine is unreachable or failing" (503, retry) rather than a bug:
 * the Elasticsearch client's connection and timeout errors, and 5xx answers.
 */
export function engineUnavailable(error: unknown): boolean {
  const e = error as { name?: string; meta?: { statusCode?: number } }
  if (['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError', 'RequestAbortedError'].includes(e?.name ?? ''))
    return true
  return (e?.meta?.statusCode ?? 0) >= 500
}
