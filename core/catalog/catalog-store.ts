/**
 * Every write to the catalog's tables, and its reads. Postgres is the truth: a write is one transaction that
 * also queues the products it changed in `catalog_outbox` (the search index's feed), and says which edge cache
 * tags and Redis stock copies it made stale; `Catalog` applies those after the commit.
 */
import { createHash } from 'node:crypto'
import type pg from 'pg'
import {
  CATALOG_TAGS,
  CategoryBody,
  PriceBody,
  ProductBody,
  ProductPatch,
  parseImportLine,
  type AdminProduct,
  type CategoryInput,
  type ImportLine,
  type ImportProblem,
  type ImportResponse,
  type ImportResult,
  type ProductImage,
  type ProductInput,
  type SearchDocument,
  type VariantInput,
} from '../../contracts/index.ts'
import { withTransaction } from '../db/transaction.ts'
import { ApiError } from '../errors/api-error.ts'
import type { StockCopy } from './catalog-scripts.ts'
import { CategoryTree } from './category-tree.ts'

/** Catalog writers take this lock for their transaction: imports, puts and price changes never interleave. */
const CATALOG_WRITE_LOCK = 7_141_010
/** A drainer's claim on outbox rows lapses after this long (it died): another takes them. */
const OUTBOX_CLAIM_SECONDS = 30

type Db = pg.Pool | pg.PoolClient

/** What a committed write made stale: edge cache tags, Redis stock copies, and how many search documents. */
export interface CatalogWrite {
  tags: Set<string>
  stock: StockCopy[]
  /** Products queued for the search index. */
  queued: number
}

function emptyWrite(): CatalogWrite {
  return { tags: new Set(), stock: [], queued: 0 }
}

function merge(into: CatalogWrite, from: CatalogWrite): CatalogWrite {
  for (const tag of from.tags) into.tags.add(tag)
  into.stock.push(...from.stock)
  into.queued += from.queued
  return into
}

/** Canonical JSON (object keys sorted) so the same input always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

const contentHash = (input: ProductInput) => createHash('sha256').update(canonical(input)).digest('hex')

const effective = (v: { salePriceCents: number | null; listPriceCents: number }) => v.salePriceCents ?? v.listPriceCents

/** The product's denormalized fields: its cheapest variant (first listed on a tie) and whether any has stock. */
function summarize(variants: VariantInput[]) {
  let best = variants[0]!
  for (const v of variants) if (effective(v) < effective(best)) best = v
  return {
    priceCents: effective(best),
    listPriceCents: best.listPriceCents,
    currency: best.currency,
    defaultSku: best.sku,
    inStock: variants.some((v) => v.stock > 0),
  }
}

/** Recomputes the denormalized fields of products from their active variants (same rule as `summarize`). */
const RECOMPUTE_PRODUCTS = `
  UPDATE catalog_products p
     SET price_cents = s.price, list_price_cents = s.list, currency = s.currency, default_sku = s.sku,
       in_stock = s.in_stock
    FROM (SELECT DISTINCT ON (product_id) product_id, coalesce(sale_price_cents, list_price_cents) AS price,
                 list_price_cents AS list, currency, sku, bool_or(stock > 0) OVER (PARTITION BY product_id) AS in_stock
            FROM catalog_variants
           WHERE product_id = ANY($1) AND archived_at IS NULL
           ORDER BY product_id, coalesce(sale_price_cents, list_price_cents), position, id) s
   WHERE p.id = s.product_id`

interface ProductRow {
  id: number
  slug: string
  name: string
  brand: string
  description: string
  category_id: number
  images: ProductImage[]
  attributes: Record<string, string>
  status: 'active' | 'archived'
  version: number
  price_cents: number
  list_price_cents: number
  currency: string
  default_sku: string
  in_stock: boolean
  created_at: Date
  updated_at: Date
}

interface VariantRow {
  product_id: number
  sku: string
  attributes: Record<string, string>
  list_price_cents: number
  sale_price_cents: number | null
  currency: string
}

/** Units of one SKU taken or given back by a cart checkout. */
export interface StockLine {
  sku: string
  quantity: number
}

export interface CartItem {
  sku: string
  name: string
  slug: string
  attributes: Record<string, string>
  priceCents: number
  currency: string
  /** Units on hand (0 when the variant or its product is archived). */
  stock: number
  active: boolean
  /** The sale (drop) selling this SKU, if any. */
  dropSaleId: string | null
}

const bySku = (lines: StockLine[]) => [...lines].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0))

export class CatalogStore {
  constructor(readonly db: pg.Pool) {}

  /** One catalog write: the writer lock, the current category tree, then `work`; COMMIT or ROLLBACK. */
  private write<T>(work: (client: pg.PoolClient, tree: CategoryTree) => Promise<T>): Promise<T> {
    return withTransaction(this.db, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [CATALOG_WRITE_LOCK])
      return work(client, await CategoryTree.load(client))
    })
  }

  /** Tags a product's change makes stale: its page, every listing above it, home and search. */
  private productTags(tree: CategoryTree, slug: string, categoryIds: number[], into: Set<string>): void {
    into.add(CATALOG_TAGS.product(slug))
    into.add(CATALOG_TAGS.home)
    into.add(CATALOG_TAGS.search)
    into.add(CATALOG_TAGS.tree)
    for (const id of categoryIds) for (const c of tree.path(id)) into.add(CATALOG_TAGS.category(c.slug))
  }

  /** Queues products for the search index at their current version. */
  private async enqueue(client: pg.PoolClient, productIds: number[]): Promise<number> {
    if (!productIds.length) return 0
    const { rowCount } = await client.query(
      'INSERT INTO catalog_outbox (product_id, version) SELECT id, version FROM catalog_products WHERE id = ANY($1)',
      [productIds],
    )
    return rowCount ?? 0
  }

  /** Bumps the version of every product in these categories (their search documents show category names). */
  private async touchCategories(
    client: pg.PoolClient,
    tree: CategoryTree,
    categoryIds: number[],
    write: CatalogWrite,
  ): Promise<void> {
    const { rows } = await client.query<{ id: number; slug: string; category_id: number }>(
      `UPDATE catalog_products SET version = version + 1, updated_at = now() WHERE category_id = ANY($1)
       RETURNING id, slug, category_id`,
      [categoryIds],
    )
    for (const row of rows) this.productTags(tree, row.slug, [row.category_id], write.tags)
    write.queued += await this.enqueue(
      client,
      rows.map((r) => r.id),
    )
  }

  // ---------------------------------------------------------------- categories

  /**
   * Creates or updates categories, parents before children whatever their order. A renamed or moved
   * category re-queues its products. Lines whose parent cannot be found, or that would make a cycle, fail.
   */
  private async writeCategories(
    client: pg.PoolClient,
    tree: CategoryTree,
    items: Array<{ line: number; input: CategoryInput }>,
  ): Promise<{ results: ImportResult[]; write: CatalogWrite }> {
    const write = emptyWrite()
    const results: ImportResult[] = []
    let pending = items
    while (pending.length) {
      const ready = pending.filter((i) => i.input.parent === null || tree.bySlug.has(i.input.parent))
      if (!ready.length) break
      pending = pending.filter((i) => !ready.includes(i))
      for (const { line, input } of ready) {
        const parent = input.parent === null ? null : tree.bySlug.get(input.parent)!
        const existing = tree.bySlug.get(input.slug)
        if (existing && parent && tree.isWithin(parent.id, existing.id)) {
          results.push({
            line,
            outcome: 'error',
            slug: input.slug,
            error: {
              code: 'catalog_conflict',
              field: 'parent',
              message: `parent: ${input.parent} is ${input.slug} or below it`,
            },
          })
          continue
        }
        const { rows } = await client.query<{ id: number; inserted: boolean }>(
          `INSERT INTO catalog_categories (slug, name, parent_id, position) VALUES ($1, $2, $3, $4)
           ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id,
             position = EXCLUDED.position, updated_at = now()
           WHERE (catalog_categories.name, catalog_categories.parent_id, catalog_categories.position)
                 IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.parent_id, EXCLUDED.position)
           RETURNING id, (xmax = 0) AS inserted`,
          [input.slug, input.name, parent?.id ?? null, input.position],
        )
        const row = rows[0]
        if (!row) {
          results.push({ line, outcome: 'unchanged', slug: input.slug })
          continue
        }
        const before = existing ? tree.path(existing.id) : []
        tree.add({
          id: row.id,
          slug: input.slug,
          name: input.name,
          parentId: parent?.id ?? null,
          position: input.position,
        })
        write.tags.add(CATALOG_TAGS.tree).add(CATALOG_TAGS.home).add(CATALOG_TAGS.search)
        for (const c of [...before, ...tree.path(row.id)]) write.tags.add(CATALOG_TAGS.category(c.slug))
        if (existing && (existing.name !== input.name || existing.parentId !== (parent?.id ?? null))) {
          await this.touchCategories(client, tree, tree.subtree(row.id), write)
        }
        results.push({ line, outcome: row.inserted ? 'created' : 'updated', slug: input.slug })
      }
    }
    for (const { line, input } of pending) {
      results.push({
        line,
        outcome: 'error',
        slug: input.slug,
        error: { code: 'category_not_found', field: 'parent', message: `parent: no category ${input.parent}` },
      })
    }
    return { results, write }
  }

  async putCategory(slug: string, body: CategoryBody): Promise<{ created: boolean; write: CatalogWrite }> {
    const input = { slug, ...CategoryBody.parse(body) }
    return this.write(async (client, tree) => {
      const { results, write } = await this.writeCategories(client, tree, [{ line: 1, input }])
      const result = results[0]!
      if (result.error)
        throw new ApiError(
          result.error.code === 'catalog_conflict' ? 'catalog_conflict' : 'category_not_found',
          result.error.message,
          result.error.field,
        )
      return { created: result.outcome === 'created', write }
    })
  }

  // ---------------------------------------------------------------- products

  /**
   * Creates or replaces products, set-based (a few statements per batch, whatever its size). Lines are checked
   * first (category exists, no SKU owned by another product, no slug or SKU twice in the batch) and a failing
   * line writes nothing. An input identical to the last one written is `unchanged` and bumps nothing.
   */
  private async writeProducts(
    client: pg.PoolClient,
    tree: CategoryTree,
    items: Array<{ line: number; input: ProductInput }>,
  ): Promise<{ results: ImportResult[]; write: CatalogWrite }> {
    const write = emptyWrite()
    const results: ImportResult[] = []
    const fail = (line: number, slug: string, problem: ImportProblem) =>
      results.push({ line, outcome: 'error', slug, error: problem })

    const skus = items.flatMap((i) => i.input.variants.map((v) => v.sku))
    const owners = new Map(
      (
        await client.query<{ sku: string; slug: string }>(
          `SELECT v.sku, p.slug FROM catalog_variants v JOIN catalog_products p ON p.id = v.product_id
            WHERE v.sku = ANY($1)`,
          [skus],
        )
      ).rows.map((r) => [r.sku, r.slug]),
    )
    const existing = new Map(
      (
        await client.query<{ slug: string; id: number; content_hash: string; status: string; category_id: number }>(
          'SELECT slug, id, content_hash, status, category_id FROM catalog_products WHERE slug = ANY($1)',
          [items.map((i) => i.input.slug)],
        )
      ).rows.map((r) => [r.slug, r]),
    )

    const seenSlugs = new Set<string>()
    const seenSkus = new Map<string, string>()
    const toWrite: Array<{ line: number; input: ProductInput; hash: string; categoryId: number }> = []
    for (const { line, input } of items) {
      const category = tree.bySlug.get(input.category)
      if (seenSlugs.has(input.slug)) {
        fail(line, input.slug, {
          code: 'catalog_conflict',
          field: 'slug',
          message: `slug: ${input.slug} appears on an earlier line of this batch`,
        })
        continue
      }
      seenSlugs.add(input.slug)
      if (!category) {
        fail(line, input.slug, {
          code: 'category_not_found',
          field: 'category',
          message: `category: no category ${input.category}`,
        })
        continue
      }
      const clash = input.variants.findIndex((v) => {
        const owner = owners.get(v.sku) ?? seenSkus.get(v.sku)
        return owner !== undefined && owner !== input.slug
      })
      if (clash >= 0) {
        const sku = input.variants[clash]!.sku
        fail(line, input.slug, {
          code: 'catalog_conflict',
          field: `variants.${clash}.sku`,
          message: `variants.${clash}.sku: ${sku} belongs to product ${owners.get(sku) ?? seenSkus.get(sku)}`,
        })
        continue
      }
      for (const v of input.variants) seenSkus.set(v.sku, input.slug)
      const hash = contentHash(input)
      const known = existing.get(input.slug)
      if (known && known.content_hash === hash && known.status === 'active') {
        results.push({ line, outcome: 'unchanged', slug: input.slug })
        continue
      }
      toWrite.push({ line, input, hash, categoryId: category.id })
    }
    if (!toWrite.length) return { results, write }

    const summaries = toWrite.map((w) => summarize(w.input.variants))
    const { rows: written } = await client.query<{ id: number; slug: string; inserted: boolean }>(
      `INSERT INTO catalog_products (slug, name, brand, description, category_id, images, attributes, content_hash,
                                     price_cents, list_price_cents, currency, default_sku, in_stock, status)
       SELECT slug, name, brand, description, category_id, images::jsonb, attributes::jsonb, content_hash,
              price_cents, list_price_cents, currency, default_sku, in_stock, 'active'
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[],
                     $9::int[], $10::int[], $11::text[], $12::text[], $13::boolean[])
           AS t(slug, name, brand, description, category_id, images, attributes, content_hash,
                price_cents, list_price_cents, currency, default_sku, in_stock)
       ON CONFLICT (slug) DO UPDATE SET
         name = EXCLUDED.name, brand = EXCLUDED.brand, description = EXCLUDED.description,
           category_id = EXCLUDED.category_id,
         images = EXCLUDED.images, attributes = EXCLUDED.attributes, content_hash = EXCLUDED.content_hash,
         price_cents = EXCLUDED.price_cents, list_price_cents = EXCLUDED.list_price_cents, currency = EXCLUDED.currency,
         default_sku = EXCLUDED.default_sku, in_stock = EXCLUDED.in_stock, status = 'active',
         version = catalog_products.version + 1, updated_at = now()
       RETURNING id, slug, (xmax = 0) AS inserted`,
      [
        toWrite.map((w) => w.input.slug),
        toWrite.map((w) => w.input.name),
        toWrite.map((w) => w.input.brand),
        toWrite.map((w) => w.input.description),
        toWrite.map((w) => w.categoryId),
        toWrite.map((w) => JSON.stringify(w.input.images)),
        toWrite.map((w) => JSON.stringify(w.input.attributes)),
        toWrite.map((w) => w.hash),
        summaries.map((s) => s.priceCents),
        summaries.map((s) => s.listPriceCents),
        summaries.map((s) => s.currency),
        summaries.map((s) => s.defaultSku),
        summaries.map((s) => s.inStock),
      ],
    )
    const idOf = new Map(written.map((r) => [r.slug, r]))
    const variants = toWrite.flatMap((w) =>
      w.input.variants.map((v, position) => ({ productId: idOf.get(w.input.slug)!.id, position, v })),
    )
    const { rows: stockRows } = await client.query<{ sku: string; stock: number; stock_version: number }>(
      `INSERT INTO catalog_variants (product_id, sku, attributes, position, list_price_cents, sale_price_cents,
        currency, stock)
       SELECT product_id, sku, attributes::jsonb, position, list_price_cents, sale_price_cents, currency, stock
         FROM unnest($1::int[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::text[], $8::int[])
           AS t(product_id, sku, attributes, position, list_price_cents, sale_price_cents, currency, stock)
       ON CONFLICT (sku) DO UPDATE SET
         attributes = EXCLUDED.attributes, position = EXCLUDED.position, list_price_cents = EXCLUDED.list_price_cents,
         sale_price_cents = EXCLUDED.sale_price_cents, currency = EXCLUDED.currency, stock = EXCLUDED.stock,
         stock_version = catalog_variants.stock_version
           + CASE WHEN catalog_variants.stock <> EXCLUDED.stock
             OR catalog_variants.archived_at IS NOT NULL THEN 1 ELSE 0 END,
         archived_at = NULL, updated_at = now()
       RETURNING sku, stock, stock_version`,
      [
        variants.map((x) => x.productId),
        variants.map((x) => x.v.sku),
        variants.map((x) => JSON.stringify(x.v.attributes)),
        variants.map((x) => x.position),
        variants.map((x) => x.v.listPriceCents),
        variants.map((x) => x.v.salePriceCents),
        variants.map((x) => x.v.currency),
        variants.map((x) => x.v.stock),
      ],
    )
    for (const r of stockRows) write.stock.push({ sku: r.sku, quantity: r.stock, version: r.stock_version })
    const productIds = written.map((r) => r.id)
    const { rows: dropped } = await client.query<{ sku: string; stock_version: number }>(
      `UPDATE catalog_variants SET archived_at = now(), stock_version = stock_version + 1, updated_at = now()
        WHERE product_id = ANY($1) AND archived_at IS NULL AND NOT (sku = ANY($2))
        RETURNING sku, stock_version`,
      [productIds, variants.map((x) => x.v.sku)],
    )
    for (const r of dropped) write.stock.push({ sku: r.sku, quantity: -1, version: r.stock_version })
    write.queued += await this.enqueue(client, productIds)

    for (const w of toWrite) {
      const row = idOf.get(w.input.slug)!
      const previous = existing.get(w.input.slug)
      this.productTags(tree, w.input.slug, previous ? [w.categoryId, previous.category_id] : [w.categoryId], write.tags)
      results.push({ line: w.line, outcome: row.inserted ? 'created' : 'updated', slug: w.input.slug })
    }
    return { results, write }
  }

  async putProduct(slug: string, body: ProductBody): Promise<{ created: boolean; write: CatalogWrite }> {
    const parsed = ProductBody.parse(body)
    const input: ProductInput = { slug, ...parsed }
    return this.write(async (client, tree) => {
      const { results, write } = await this.writeProducts(client, tree, [{ line: 1, input }])
      const result = results[0]!
      if (result.error) {
        const code = result.error.code === 'category_not_found' ? 'category_not_found' : 'catalog_conflict'
        throw new ApiError(code, result.error.message, result.error.field)
      }
      return { created: result.outcome === 'created', write }
    })
  }

  /**
   * An import batch (`token-issuer catalog import`): every line validated on its own, categories written
   * first, each line either written whole or reported with the field to fix.
   */
  async importItems(
    items: Array<{ line: number; item: unknown }>,
  ): Promise<{ response: ImportResponse; write: CatalogWrite }> {
    const results: ImportResult[] = []
    const categories: Array<{ line: number; input: CategoryInput }> = []
    const products: Array<{ line: number; input: ProductInput }> = []
    for (const { line, item } of items) {
      const parsed = parseImportLine(item)
      if (!parsed.ok) {
        const slug = (item as { slug?: unknown } | null)?.slug
        results.push({ line, outcome: 'error', ...(typeof slug === 'string' ? { slug } : {}), error: parsed.problem })
        continue
      }
      const { type: _type, ...rest } = parsed.line as ImportLine & { type: string }
      if (parsed.line.type === 'category') categories.push({ line, input: rest as CategoryInput })
      else products.push({ line, input: rest as ProductInput })
    }
    const write = emptyWrite()
    if (categories.length || products.length) {
      await this.write(async (client, tree) => {
        if (categories.length) {
          const done = await this.writeCategories(client, tree, categories)
          results.push(...done.results)
          merge(write, done.write)
        }
        if (products.length) {
          const done = await this.writeProducts(client, tree, products)
          results.push(...done.results)
          merge(write, done.write)
        }
      })
    }
    results.sort((a, b) => a.line - b.line)
    const count = (o: ImportResult['outcome']) => results.filter((r) => r.outcome === o).length
    return {
      response: {
        results,
        created: count('created'),
        updated: count('updated'),
        unchanged: count('unchanged'),
        errors: count('error'),
      },
      write,
    }
  }

  private async productForUpdate(client: pg.PoolClient, slug: string): Promise<ProductRow> {
    const { rows } = await client.query<ProductRow>('SELECT * FROM catalog_products WHERE slug = $1 FOR UPDATE', [slug])
    if (!rows[0]) throw new ApiError('product_not_found', `no product ${slug}`, 'slug')
    return rows[0]
  }

  /** Changes some of a product's own fields; its variants and prices stay as they are. */
  async patchProduct(slug: string, patch: ProductPatch): Promise<CatalogWrite> {
    const changes = ProductPatch.parse(patch)
    return this.write(async (client, tree) => {
      const product = await this.productForUpdate(client, slug)
      let categoryId = product.category_id
      if (changes.category !== undefined) {
        const category = tree.bySlug.get(changes.category)
        if (!category) throw new ApiError('category_not_found', `category: no category ${changes.category}`, 'category')
        categoryId = category.id
      }
      await client.query(
        `UPDATE catalog_products SET name = $2, brand = $3, description = $4, category_id = $5, images = $6::jsonb,
                attributes = $7::jsonb, content_hash = '', version = version + 1, updated_at = now()
          WHERE id = $1`,
        [
          product.id,
          changes.name ?? product.name,
          changes.brand ?? product.brand,
          changes.description ?? product.description,
          categoryId,
          JSON.stringify(changes.images ?? product.images),
          JSON.stringify(changes.attributes ?? product.attributes),
        ],
      )
      const write = emptyWrite()
      this.productTags(tree, slug, [categoryId, product.category_id], write.tags)
      write.queued += await this.enqueue(client, [product.id])
      return write
    })
  }

  /** Takes a product out of the store (pages, lists, search); its SKUs become unknown to availability. */
  async archiveProduct(slug: string): Promise<CatalogWrite> {
    return this.write(async (client, tree) => {
      const product = await this.productForUpdate(client, slug)
      const write = emptyWrite()
      if (product.status === 'archived') return write
      await client.query(
        `UPDATE catalog_products SET status = 'archived', content_hash = '', version = version + 1,
          updated_at = now() WHERE id = $1`,
        [product.id],
      )
      const { rows } = await client.query<{ sku: string; stock_version: number }>(
        `UPDATE catalog_variants SET stock_version = stock_version + 1, updated_at = now()
          WHERE product_id = $1 AND archived_at IS NULL RETURNING sku, stock_version`,
        [product.id],
      )
      for (const r of rows) write.stock.push({ sku: r.sku, quantity: -1, version: r.stock_version })
      this.productTags(tree, slug, [product.category_id], write.tags)
      write.queued += await this.enqueue(client, [product.id])
      return write
    })
  }

  private async variantForUpdate(
    client: pg.PoolClient,
    sku: string,
  ): Promise<{ id: number; product_id: number; stock: number }> {
    const { rows } = await client.query<{ id: number; product_id: number; stock: number }>(
      `SELECT v.id, v.product_id, v.stock FROM catalog_variants v JOIN catalog_products p ON p.id = v.product_id
        WHERE v.sku = $1 AND v.archived_at IS NULL AND p.status = 'active' FOR UPDATE OF v`,
      [sku],
    )
    if (!rows[0]) throw new ApiError('variant_not_found', `no active variant ${sku}`, 'sku')
    return rows[0]
  }

  /** A variant's list and sale price; the product's own price (its cheapest variant) follows. */
  async setPrice(sku: string, body: PriceBody): Promise<CatalogWrite> {
    const price = PriceBody.parse(body)
    return this.write(async (client, tree) => {
      const variant = await this.variantForUpdate(client, sku)
      await client.query(
        'UPDATE catalog_variants SET list_price_cents = $2, sale_price_cents = $3, updated_at = now() WHERE id = $1',
        [variant.id, price.listPriceCents, price.salePriceCents],
      )
      await client.query(RECOMPUTE_PRODUCTS, [[variant.product_id]])
      const { rows } = await client.query<{ slug: string; category_id: number }>(
        `UPDATE catalog_products SET content_hash = '', version = version + 1, updated_at = now()
          WHERE id = $1 RETURNING slug, category_id`,
        [variant.product_id],
      )
      const write = emptyWrite()
      this.productTags(tree, rows[0]!.slug, [rows[0]!.category_id], write.tags)
      write.queued += await this.enqueue(client, [variant.product_id])
      return write
    })
  }

  /**
   * Units on hand of an everyday SKU. Availability reads the Redis copy; only when the product goes in or out
   * of stock does its search document (the inStock filter) and its listings change.
   */
  async setStock(sku: string, quantity: number): Promise<CatalogWrite> {
    return this.write(async (client, tree) => {
      const variant = await this.variantForUpdate(client, sku)
      const { rows } = await client.query<{ stock_version: number }>(
        `UPDATE catalog_variants SET stock = $2, stock_version = stock_version + 1, updated_at = now()
          WHERE id = $1 RETURNING stock_version`,
        [variant.id, quantity],
      )
      const write = emptyWrite()
      write.stock.push({ sku, quantity, version: rows[0]!.stock_version })
      const { rows: flipped } = await client.query<{ slug: string; category_id: number }>(
        `UPDATE catalog_products p SET in_stock = s.any_stock, content_hash = '', version = version + 1,
          updated_at = now()
           FROM (SELECT bool_or(stock > 0) AS any_stock FROM catalog_variants
             WHERE product_id = $1 AND archived_at IS NULL) s
          WHERE p.id = $1 AND p.in_stock IS DISTINCT FROM s.any_stock
          RETURNING p.slug, p.category_id`,
        [variant.product_id],
      )
      if (flipped[0]) {
        for (const c of tree.path(flipped[0].category_id)) write.tags.add(CATALOG_TAGS.category(c.slug))
        write.tags.add(CATALOG_TAGS.search)
        write.queued += await this.enqueue(client, [variant.product_id])
      }
      return write
    })
  }

  /**
   * Takes units out of everyday stock for a cart checkout, in the caller's transaction: every line or none.
   * Variants are locked in SKU order (every taker locks in the same order: no deadlock), each decremented only
   * if it has the units. Returns the first SKU short of stock (the caller rolls back), or what went stale.
   */
  async takeStock(client: pg.PoolClient, lines: StockLine[]): Promise<{ short: string } | { write: CatalogWrite }> {
    const write = emptyWrite()
    const products = new Set<number>()
    for (const line of bySku(lines)) {
      const { rows } = await client.query<{ product_id: number; stock: number; stock_version: number }>(
        `UPDATE catalog_variants v SET stock = v.stock - $2, stock_version = v.stock_version + 1, updated_at = now()
           FROM catalog_products p
          WHERE v.sku = $1 AND p.id = v.product_id AND v.archived_at IS NULL AND p.status = 'active' AND v.stock >= $2
          RETURNING v.product_id, v.stock, v.stock_version`,
        [line.sku, line.quantity],
      )
      if (!rows[0]) return { short: line.sku }
      write.stock.push({ sku: line.sku, quantity: rows[0].stock, version: rows[0].stock_version })
      if (rows[0].stock === 0) products.add(rows[0].product_id)
    }
    await this.flipInStock(client, [...products], write)
    return { write }
  }

  /** Puts units taken by `takeStock` back (a failed or expired cart checkout), in the caller's transaction. */
  async returnStock(client: pg.PoolClient, lines: StockLine[]): Promise<CatalogWrite> {
    const write = emptyWrite()
    const products = new Set<number>()
    for (const line of bySku(lines)) {
      const { rows } = await client.query<{ product_id: number; stock: number; stock_version: number }>(
        `UPDATE catalog_variants SET stock = stock + $2, stock_version = stock_version + 1, updated_at = now()
          WHERE sku = $1 RETURNING product_id, stock, stock_version`,
        [line.sku, line.quantity],
      )
      if (!rows[0]) continue
      write.stock.push({ sku: line.sku, quantity: rows[0].stock, version: rows[0].stock_version })
      if (rows[0].stock === line.quantity) products.add(rows[0].product_id)
    }
    await this.flipInStock(client, [...products], write)
    return write
  }

  /** Products whose "any variant in stock" changed: their flag, listings and search documents follow. */
  private async flipInStock(client: pg.PoolClient, productIds: number[], write: CatalogWrite): Promise<void> {
    if (!productIds.length) return
    const { rows } = await client.query<{ id: number; category_id: number }>(
      `UPDATE catalog_products p
          SET in_stock = s.any_stock, content_hash = '', version = version + 1, updated_at = now()
         FROM (SELECT product_id, bool_or(stock > 0) AS any_stock FROM catalog_variants
                WHERE product_id = ANY($1) AND archived_at IS NULL GROUP BY product_id) s
        WHERE p.id = s.product_id AND p.in_stock IS DISTINCT FROM s.any_stock
        RETURNING p.id, p.category_id`,
      [productIds.sort((a, b) => a - b)],
    )
    if (!rows.length) return
    const tree = await CategoryTree.load(client)
    for (const row of rows) for (const c of tree.path(row.category_id)) write.tags.add(CATALOG_TAGS.category(c.slug))
    write.tags.add(CATALOG_TAGS.search)
    write.queued += await this.enqueue(
      client,
      rows.map((r) => r.id),
    )
  }

  /**
   * What a cart shows of each SKU: product, current price, units on hand (Postgres, the truth), whether it is
   * on sale, and the drop selling it if any (a drop's SKU is bought through its waiting room, never a cart).
   */
  async cartItems(skus: string[]): Promise<CartItem[]> {
    const { rows } = await this.db.query<{
      sku: string
      name: string
      slug: string
      attributes: Record<string, string>
      price: number
      currency: string
      stock: number
      active: boolean
      drop_sale_id: string | null
    }>(
      `SELECT v.sku, p.name, p.slug, v.attributes, coalesce(v.sale_price_cents, v.list_price_cents) AS price,
              v.currency,
              v.stock, (v.archived_at IS NULL AND p.status = 'active') AS active,
              (SELECT s.id FROM sales s WHERE s.variant_id = v.id OR s.sku = v.sku ORDER BY s.starts_at DESC LIMIT 1)
                AS drop_sale_id
         FROM catalog_variants v JOIN catalog_products p ON p.id = v.product_id WHERE v.sku = ANY($1)`,
      [skus],
    )
    return rows.map((r) => ({
      sku: r.sku,
      name: r.name,
      slug: r.slug,
      attributes: r.attributes,
      priceCents: r.price,
      currency: r.currency,
      stock: r.active ? r.stock : 0,
      active: r.active,
      dropSaleId: r.drop_sale_id,
    }))
  }

  // ---------------------------------------------------------------- reads

  tree(db: Db = this.db): Promise<CategoryTree> {
    return CategoryTree.load(db)
  }

  /** Active products per category (not counting subcategories). */
  async directCounts(): Promise<Map<number, number>> {
    const { rows } = await this.db.query<{ category_id: number; n: number }>(
      `SELECT category_id, count(*)::int AS n FROM catalog_products WHERE status = 'active' GROUP BY category_id`,
    )
    return new Map(rows.map((r) => [r.category_id, r.n]))
  }

  /** A product with its variants; archived ones only when `includeArchived` (operators). */
  async product(slug: string, { includeArchived = false } = {}): Promise<AdminProduct | null> {
    const { rows } = await this.db.query<ProductRow>('SELECT * FROM catalog_products WHERE slug = $1', [slug])
    const row = rows[0]
    if (!row || (row.status !== 'active' && !includeArchived)) return null
    const [tree, variants] = await Promise.all([
      this.tree(),
      this.db.query<VariantRow>(
        `SELECT product_id, sku, attributes, list_price_cents, sale_price_cents, currency FROM catalog_variants
          WHERE product_id = $1 AND archived_at IS NULL ORDER BY position, id`,
        [row.id],
      ),
    ])
    return {
      slug: row.slug,
      name: row.name,
      brand: row.brand,
      description: row.description,
      category: {
        ...tree.ref(row.category_id),
        path: tree.path(row.category_id).map((c) => ({ slug: c.slug, name: c.name })),
      },
      images: row.images,
      attributes: row.attributes,
      variants: variants.rows.map((v) => ({
        sku: v.sku,
        attributes: v.attributes,
        listPriceCents: v.list_price_cents,
        salePriceCents: v.sale_price_cents,
        priceCents: v.sale_price_cents ?? v.list_price_cents,
        currency: v.currency,
      })),
      priceCents: row.price_cents,
      listPriceCents: row.list_price_cents,
      currency: row.currency,
      updatedAt: row.updated_at.toISOString(),
      status: row.status,
      version: row.version,
    }
  }

  /** Stock from Postgres (what Redis should hold): for SKUs the Redis copy does not have. */
  async stockOf(skus: string[]): Promise<StockCopy[]> {
    const { rows } = await this.db.query<{ sku: string; stock: number; stock_version: number; active: boolean }>(
      `SELECT v.sku, v.stock, v.stock_version, (v.archived_at IS NULL AND p.status = 'active') AS active
         FROM catalog_variants v JOIN catalog_products p ON p.id = v.product_id WHERE v.sku = ANY($1)`,
      [skus],
    )
    return rows.map((r) => ({ sku: r.sku, quantity: r.active ? r.stock : -1, version: r.stock_version }))
  }

  /** Search documents of these products at their current version (archived ones as inactive). */
  async documents(productIds: number[], db: Db = this.db, tree?: CategoryTree): Promise<SearchDocument[]> {
    if (!productIds.length) return []
    const categories = tree ?? (await CategoryTree.load(db))
    const { rows } = await db.query<ProductRow & { variant_attributes: string | null }>(
      `SELECT p.*, (SELECT string_agg(a.value, ' ')
                      FROM catalog_variants v, jsonb_each_text(v.attributes) a
                     WHERE v.product_id = p.id AND v.archived_at IS NULL) AS variant_attributes
         FROM catalog_products p WHERE p.id = ANY($1) ORDER BY p.id`,
      [productIds],
    )
    return rows.map((p) => {
      const path = categories.path(p.category_id)
      const own = path.at(-1)!
      return {
        productId: p.id,
        version: p.version,
        active: p.status === 'active',
        slug: p.slug,
        name: p.name,
        brand: p.brand,
        description: p.description,
        attributes: [...Object.values(p.attributes), ...(p.variant_attributes ?? '').split(' ')]
          .filter(Boolean)
          .join(' '),
        categoryId: own.id,
        categorySlug: own.slug,
        categoryName: own.name,
        categorySlugs: path.map((c) => c.slug),
        categoryNames: path.map((c) => c.name),
        priceCents: p.price_cents,
        listPriceCents: p.list_price_cents,
        currency: p.currency,
        inStock: p.in_stock,
        image: p.images[0] ?? null,
        sku: p.default_sku,
        createdAt: p.created_at.toISOString(),
      }
    })
  }

  /** Every product's search document, `size` at a time, in id order (a full reindex). */
  async *allDocuments(size = 1000): AsyncGenerator<SearchDocument[]> {
    const tree = await this.tree()
    let after = 0
    for (;;) {
      const { rows } = await this.db.query<{ id: number }>(
        'SELECT id FROM catalog_products WHERE id > $1 ORDER BY id LIMIT $2',
        [after, size],
      )
      if (!rows.length) return
      after = rows.at(-1)!.id
      yield await this.documents(
        rows.map((r) => r.id),
        this.db,
        tree,
      )
    }
  }

  /** Postgres's clock (a reindex marks its start by it, so no clock skew between hosts matters). */
  async now(): Promise<Date> {
    const { rows } = await this.db.query<{ now: Date }>('SELECT now() AS now')
    return rows[0]!.now
  }

  /** Products changed at or after `since` (what a reindex that started then may have missed). */
  async changedSince(since: Date): Promise<number[]> {
    const { rows } = await this.db.query<{ id: number }>(
      'SELECT id FROM catalog_products WHERE updated_at >= $1 ORDER BY id',
      [since],
    )
    return rows.map((r) => r.id)
  }

  /**
   * Claims up to `limit` queued products (rows no other drainer claimed in the last OUTBOX_CLAIM_SECONDS), hands
   * their current documents to `apply`, and deletes the rows once it succeeded; if it fails they are released
   * at once. No transaction is held while `apply` writes the index (a drainer that dies leaves its claim to
   * expire). Returns how many rows were taken and when each was queued.
   */
  async drainOutbox(
    limit: number,
    apply: (docs: SearchDocument[]) => Promise<void>,
  ): Promise<{ taken: number; queuedAt: Date[] }> {
    const { rows } = await this.db.query<{ id: string; product_id: number; created_at: Date }>(
      `UPDATE catalog_outbox SET claimed_at = clock_timestamp()
        WHERE id IN (SELECT id FROM catalog_outbox
                      WHERE claimed_at IS NULL
                        OR claimed_at < clock_timestamp() - make_interval(secs => ${OUTBOX_CLAIM_SECONDS})
                      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, product_id, created_at`,
      [limit],
    )
    if (!rows.length) return { taken: 0, queuedAt: [] }
    const ids = rows.map((r) => r.id)
    try {
      await apply(await this.documents([...new Set(rows.map((r) => r.product_id))]))
    } catch (error) {
      await this.db
        .query('UPDATE catalog_outbox SET claimed_at = NULL WHERE id = ANY($1::bigint[])', [ids])
        .catch(() => undefined)
      throw error
    }
    await this.db.query('DELETE FROM catalog_outbox WHERE id = ANY($1::bigint[])', [ids])
    return { taken: rows.length, queuedAt: rows.map((r) => r.created_at) }
  }

  async outboxStatus(): Promise<{ pending: number; oldest: Date | null }> {
    const { rows } = await this.db.query<{ pending: number; oldest: Date | null }>(
      'SELECT count(*)::int AS pending, min(created_at) AS oldest FROM catalog_outbox',
    )
    return rows[0]!
  }
}
