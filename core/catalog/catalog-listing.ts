/**
 * The shopper's reads of the catalog that are not a single product: category listings (filters, sort, keyset
 * cursors), the home page's data and the drops (sales on catalog variants). Read-only; writes are the store's.
 */
import type pg from 'pg'
import type {
  CategoriesResponse,
  DropsResponse,
  HomeResponse,
  ListSort,
  ProductImage,
  ProductListQuery,
  ProductListResponse,
  ProductSummary,
} from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'
import type { CatalogStore } from './catalog-store.ts'
import { decodeCursor, encodeCursor, numericKey, textKey } from './cursor.ts'

/** A product row as the listing and search queries select it (SUMMARY_COLUMNS). */
export interface SummaryRow {
  id: number
  slug: string
  name: string
  brand: string
  price_cents: number
  list_price_cents: number
  currency: string
  image: ProductImage | null
  default_sku: string
  category_slug: string
  category_name: string
}

export function toSummary(row: SummaryRow): ProductSummary {
  return {
    slug: row.slug,
    name: row.name,
    brand: row.brand,
    category: { slug: row.category_slug, name: row.category_name },
    priceCents: row.price_cents,
    listPriceCents: row.list_price_cents,
    currency: row.currency,
    image: row.image,
    sku: row.default_sku,
  }
}

const SUMMARY_COLUMNS = `p.id, p.slug, p.name, p.brand, p.price_cents, p.list_price_cents, p.currency,
  p.images -> 0 AS image,
  p.default_sku, c.slug AS category_slug, c.name AS category_name`

/** Binds a value as the next query parameter and returns its placeholder. */
type Bind = (value: unknown) => string
/** ORDER BY and the keyset condition for rows after the cursor's [value, id], per sort. */
const SORTS: Record<
  ListSort,
  { order: string; after: (key: Array<string | number>, bind: Bind) => string; key: (r: SummaryRow) => number | string }
> = {
  newest: { order: 'p.id DESC', after: (k, bind) => `p.id < ${bind(k[1])}::int`, key: (r) => r.id },
  price_asc: {
    order: 'p.price_cents, p.id',
    after: (k, bind) => `(p.price_cents, p.id) > (${bind(k[0])}::int, ${bind(k[1])}::int)`,
    key: (r) => r.price_cents,
  },
  price_desc: {
    order: 'p.price_cents DESC, p.id',
    after: (k, bind) => {
      const v = bind(k[0])
      return `(p.price_cents < ${v}::int OR (p.price_cents = ${v}::int AND p.id > ${bind(k[1])}::int))`
    },
    key: (r) => r.price_cents,
  },
  name: {
    order: 'p.name, p.id',
    after: (k, bind) => `(p.name, p.id) > (${bind(k[0])}::text, ${bind(k[1])}::int)`,
    key: (r) => r.name,
  },
}

export class CatalogListing {
  constructor(
    private readonly db: pg.Pool,
    private readonly store: CatalogStore,
  ) {}

  async categories(): Promise<CategoriesResponse> {
    const [tree, counts] = await Promise.all([this.store.tree(), this.store.directCounts()])
    return { categories: tree.nodes(counts) }
  }

  async home(): Promise<HomeResponse> {
    const [tree, counts, arrivals] = await Promise.all([
      this.store.tree(),
      this.store.directCounts(),
      this.db.query<SummaryRow>(
        `SELECT ${SUMMARY_COLUMNS} FROM catalog_products p JOIN catalog_categories c ON c.id = p.category_id
          WHERE p.status = 'active' ORDER BY p.id DESC LIMIT 12`,
      ),
    ])
    return { categories: tree.nodes(counts, null, 2), newArrivals: arrivals.rows.map(toSummary) }
  }

  /** Products of a category and everything below it. */
  async products(slug: string, query: ProductListQuery): Promise<ProductListResponse> {
    const tree = await this.store.tree()
    const category = tree.bySlug.get(slug)
    if (!category) throw new ApiError('category_not_found', `no category ${slug}`, 'slug')
    const sort = SORTS[query.sort]
    const rawKey = decodeCursor(query.cursor, query.sort)
    const key = rawKey === null ? null : query.sort === 'name' ? textKey(rawKey) : numericKey(rawKey)

    const params: unknown[] = [tree.subtree(category.id)]
    const where = [`p.status = 'active'`, 'p.category_id = ANY($1)']
    const filter = (sql: string, value: unknown) => {
      params.push(value)
      where.push(sql.replace('?', `$${params.length}`))
    }
    if (query.priceMin !== undefined) filter('p.price_cents >= ?', query.priceMin)
    if (query.priceMax !== undefined) filter('p.price_cents <= ?', query.priceMax)
    if (query.inStock !== undefined) filter('p.in_stock = ?', query.inStock)
    const withoutBrand = [...where]
    if (query.brand?.length) filter('p.brand = ANY(?)', query.brand)
    const bind: Bind = (value) => {
      params.push(value)
      return `$${params.length}`
    }
    const after = key ? ` AND ${sort.after(key, bind)}` : ''

    const from = 'FROM catalog_products p JOIN catalog_categories c ON c.id = p.category_id'
    const { rows } = await this.db.query<{
      page: SummaryRow[] | null
      total: number
      brands: Array<{ value: string; count: number }> | null
    }>(
      `SELECT
         (SELECT json_agg(x) FROM (SELECT ${SUMMARY_COLUMNS} ${from}
                                    WHERE ${where.join(' AND ')}${after}
                                    ORDER BY ${sort.order} LIMIT ${query.limit + 1}) x) AS page,
         (SELECT count(*)::int ${from} WHERE ${where.join(' AND ')}) AS total,
         (SELECT json_agg(b) FROM (SELECT p.brand AS value, count(*)::int AS count ${from}
           WHERE ${withoutBrand.join(' AND ')}
                                    GROUP BY p.brand ORDER BY count(*) DESC, p.brand LIMIT 30) b) AS brands`,
      params,
    )
    const result = rows[0]!
    const page = result.page ?? []
    const more = page.length > query.limit
    const shown = page.slice(0, query.limit)
    const last = shown.at(-1)
    return {
      category: {
        slug: category.slug,
        name: category.name,
        path: tree.path(category.id).map((c) => ({ slug: c.slug, name: c.name })),
        children: tree.childrenOf(category.id).map((c) => ({ slug: c.slug, name: c.name })),
      },
      products: shown.map(toSummary),
      total: result.total,
      nextCursor: more && last ? encodeCursor(query.sort, [sort.key(last), last.id]) : null,
      brands: result.brands ?? [],
      sort: query.sort,
    }
  }

  /**
   * Sales on catalog variants: scheduled or live drops, and those that sold out within the last day (their pages
   * then say "sold out" from the room instead of falling back to everyday stock). Reads the sales table's own
   * columns beside the catalog's `variant_id` link (the sale domain has no such list).
   */
  async drops(): Promise<DropsResponse> {
    const { rows } = await this.db.query<{
      id: string
      starts_at: Date
      stock: number
      price_cents: string
      currency: string
      sku: string
      slug: string
      name: string
      image: ProductImage | null
    }>(
      `SELECT s.id, s.starts_at, s.stock, s.price_cents, s.currency, v.sku, p.slug, p.name, p.images -> 0 AS image
         FROM sales s JOIN catalog_variants v ON v.id = s.variant_id JOIN catalog_products p ON p.id = v.product_id
        WHERE (s.sold < s.stock OR s.starts_at > now() - interval '1 day') AND p.status = 'active'
        ORDER BY s.starts_at, s.id LIMIT 100`,
    )
    return {
      drops: rows.map((r) => ({
        saleId: r.id,
        sku: r.sku,
        startsAt: r.starts_at.toISOString(),
        stock: r.stock,
        url: `/sales/${r.id}`,
        productSlug: r.slug,
        productName: r.name,
        priceCents: Number(r.price_cents),
        currency: r.currency.trim(),
        image: r.image,
      })),
    }
  }
}
