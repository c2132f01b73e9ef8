/**
 * The catalog and search around a drop: what the operator writes (admin API, `token-issuer catalog import`),
 * what shoppers read (core's /v1 catalog and search routes, the edge's /api and pages) and the search document
 * the catalog hands to the search index. Prices are integer minor units (cents), as everywhere in Floodgate.
 */
import { z } from 'zod'
import { describeZodError } from './errors.ts'
import { SaleId } from './ids.ts'

// ---------------------------------------------------------------- identifiers

/** Category and product slugs: they appear in URLs (`/c/<slug>`, `/p/<slug>`) and in edge cache tags. */
export const CATALOG_SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/
export const Slug = z
  .string()
  .max(100, 'must be at most 100 chars')
  .regex(CATALOG_SLUG_PATTERN, 'must be lowercase a-z and 0-9 words joined by single "-"')
export type Slug = z.infer<typeof Slug>

export const SKU_PATTERN = /^[A-Z0-9][A-Z0-9._-]{0,63}$/
export const Sku = z
  .string()
  .regex(SKU_PATTERN, 'must be 1-64 chars of A-Z, 0-9 and . _ -, starting with a letter or digit')
export type Sku = z.infer<typeof Sku>

const Cents = z.number().int().min(0).max(100_000_000)
const Currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
const ATTRIBUTE_NAME = /^[a-z][a-z0-9_]{0,31}$/
/** Free-form attributes such as `{ color: "Black", storage: "256GB" }`. */
const Attributes = z
  .record(
    z.string().regex(ATTRIBUTE_NAME, 'attribute names are a-z, 0-9 and _, starting with a letter'),
    z.string().min(1).max(100),
  )
  .refine((a) => Object.keys(a).length <= 20, 'at most 20 attributes')

/** An image is an https URL or a path on the edge's own origin (the sample catalog's `/img/...` placeholders). */
const ImageUrl = z
  .string()
  .max(500)
  .refine(
    (u) => /^\/[A-Za-z0-9._~/-]*$/.test(u) || /^https:\/\/[^\s"'<>]+$/.test(u),
    'must be an https URL or a path starting with /',
  )
export const ProductImage = z.object({ url: ImageUrl, alt: z.string().max(200).default('') }).strict()
export type ProductImage = z.infer<typeof ProductImage>

// ---------------------------------------------------------------- operator input

export const MAX_VARIANTS_PER_PRODUCT = 100
export const MAX_IMPORT_ITEMS = 500
/** Largest body of a catalog admin write (a product with its variants). Imports use MAX_ADMIN_BODY_BYTES. */
export const MAX_CATALOG_BODY_BYTES = 256 * 1024

const categoryFields = {
  name: z.string().trim().min(1).max(100),
  /** Parent category slug; null (default) for a top-level category. */
  parent: Slug.nullable().default(null),
  /** Order among siblings (ascending), then name. */
  position: z.number().int().min(0).max(10_000).default(0),
}
export const CategoryBody = z.object(categoryFields).strict()
export type CategoryBody = z.input<typeof CategoryBody>
export const CategoryInput = z.object({ slug: Slug, ...categoryFields }).strict()
export type CategoryInput = z.output<typeof CategoryInput>

export const VariantInput = z
  .object({
    sku: Sku,
    attributes: Attributes.default({}),
    listPriceCents: Cents,
    /** The price while discounted; null = the list price applies. Never above the list price. */
    salePriceCents: Cents.nullable().default(null),
    currency: Currency.default('USD'),
    /** Units on hand for everyday sales (a drop's units live in its sale, not here). */
    stock: z.number().int().min(0).max(10_000_000).default(0),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.salePriceCents !== null && v.salePriceCents > v.listPriceCents) {
      ctx.addIssue({ code: 'custom', path: ['salePriceCents'], message: 'must not be above listPriceCents' })
    }
  })
export type VariantInput = z.output<typeof VariantInput>

const productFields = {
  name: z.string().trim().min(1).max(200),
  brand: z.string().trim().min(1).max(80),
  /** Slug of the category the product is listed in (it shows in that category and every ancestor). */
  category: Slug,
  description: z.string().max(5000).default(''),
  images: z.array(ProductImage).max(10).default([]),
  attributes: Attributes.default({}),
  variants: z.array(VariantInput).min(1).max(MAX_VARIANTS_PER_PRODUCT),
}

function checkVariants(p: { variants: Array<{ sku: string; currency: string }> }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>()
  p.variants.forEach((v, i) => {
    if (seen.has(v.sku))
      ctx.addIssue({
        code: 'custom',
        path: ['variants', i, 'sku'],
        message: `sku ${v.sku} appears twice in this product`,
      })
    seen.add(v.sku)
    if (v.currency !== p.variants[0]!.currency)
      ctx.addIssue({
        code: 'custom',
        path: ['variants', i, 'currency'],
        message: 'every variant of a product has the same currency',
      })
  })
}

/** `PUT /admin/catalog/products/:slug`: the whole product; its variants not listed are archived. */
export const ProductBody = z.object(productFields).strict().superRefine(checkVariants)
export type ProductBody = z.input<typeof ProductBody>
export const ProductInput = z
  .object({ slug: Slug, ...productFields })
  .strict()
  .superRefine(checkVariants)
export type ProductInput = z.output<typeof ProductInput>

/** `PATCH /admin/catalog/products/:slug`: any of the product's own fields (variants and prices: their own routes). */
export const ProductPatch = z
  .object({
    name: productFields.name,
    brand: productFields.brand,
    category: productFields.category,
    description: z.string().max(5000),
    images: z.array(ProductImage).max(10),
    attributes: Attributes,
  })
  .partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'send at least one field to change')
export type ProductPatch = z.input<typeof ProductPatch>

/** `PUT /admin/catalog/variants/:sku/price`. */
export const PriceBody = z
  .object({ listPriceCents: Cents, salePriceCents: Cents.nullable().default(null) })
  .strict()
  .superRefine((v, ctx) => {
    if (v.salePriceCents !== null && v.salePriceCents > v.listPriceCents) {
      ctx.addIssue({ code: 'custom', path: ['salePriceCents'], message: 'must not be above listPriceCents' })
    }
  })
export type PriceBody = z.input<typeof PriceBody>

/** `PUT /admin/catalog/variants/:sku/stock`: units on hand now. */
export const StockBody = z.object({ quantity: z.number().int().min(0).max(10_000_000) }).strict()
export type StockBody = z.infer<typeof StockBody>

/** One line of a `catalog import` file (JSON Lines): a category or a product, told apart by `type`. */
export const IMPORT_LINE_TYPES = ['category', 'product'] as const
export const ImportCategoryLine = z.object({ type: z.literal('category'), slug: Slug, ...categoryFields }).strict()
export const ImportProductLine = z
  .object({ type: z.literal('product'), slug: Slug, ...productFields })
  .strict()
  .superRefine(checkVariants)
export type ImportLine = z.output<typeof ImportCategoryLine> | z.output<typeof ImportProductLine>

/** An item's problem: which field (dotted path, '' for the whole line) and why. */
export const ImportProblem = z.object({ code: z.string(), field: z.string(), message: z.string() })
export type ImportProblem = z.infer<typeof ImportProblem>

/**
 * Validates one import line: `type` picks the schema; the first problem names its field (`variants.2.sku`).
 * Shared by the CLI (checks before sending) and core (checks again: it trusts no client).
 */
export function parseImportLine(
  value: unknown,
): { ok: true; line: ImportLine } | { ok: false; problem: ImportProblem } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: { code: 'invalid_line', field: '', message: 'a line must be a JSON object' } }
  }
  const type = (value as { type?: unknown }).type
  const schema = type === 'category' ? ImportCategoryLine : type === 'product' ? ImportProductLine : null
  if (!schema)
    return {
      ok: false,
      problem: { code: 'invalid_line', field: 'type', message: `type must be one of ${IMPORT_LINE_TYPES.join(', ')}` },
    }
  const parsed = schema.safeParse(value)
  if (parsed.success) return { ok: true, line: parsed.data as ImportLine }
  const issue = parsed.error.issues[0]!
  const field = issue.path.map(String).join('.')
  return {
    ok: false,
    problem: { code: 'invalid_line', field, message: field ? `${field}: ${issue.message}` : issue.message },
  }
}

/** `POST /admin/catalog/import`: up to MAX_IMPORT_ITEMS lines, each with its line number in the file. */
export const ImportRequest = z
  .object({
    items: z
      .array(z.object({ line: z.number().int().min(1), item: z.unknown() }).strict())
      .min(1)
      .max(MAX_IMPORT_ITEMS),
  })
  .strict()
export type ImportRequest = z.infer<typeof ImportRequest>

export const ImportOutcome = z.enum(['created', 'updated', 'unchanged', 'error'])
export const ImportResult = z.object({
  line: z.number().int(),
  outcome: ImportOutcome,
  /** The slug the line wrote (when it could be read). */
  slug: z.string().optional(),
  error: ImportProblem.optional(),
})
export type ImportResult = z.infer<typeof ImportResult>
export const ImportResponse = z.object({
  results: z.array(ImportResult),
  created: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  errors: z.number().int(),
})
export type ImportResponse = z.infer<typeof ImportResponse>

// ---------------------------------------------------------------- shopper reads

export const CategoryRef = z.object({ slug: Slug, name: z.string() })
export type CategoryRef = z.infer<typeof CategoryRef>

export type CategoryNode = {
  slug: string
  name: string
  /** Active products in this category and below. */
  productCount: number
  children: CategoryNode[]
}
export const CategoryNode: z.ZodType<CategoryNode> = z.lazy(() =>
  z.object({ slug: Slug, name: z.string(), productCount: z.number().int(), children: z.array(CategoryNode) }),
)
export const CategoriesResponse = z.object({ categories: z.array(CategoryNode) })
export type CategoriesResponse = z.infer<typeof CategoriesResponse>

/** A product as lists and search results show it: its cheapest variant's price, its first image. No stock. */
export const ProductSummary = z.object({
  slug: Slug,
  name: z.string(),
  brand: z.string(),
  category: CategoryRef,
  priceCents: z.number().int(),
  listPriceCents: z.number().int(),
  currency: z.string(),
  image: ProductImage.nullable(),
  /** The SKU a list asks availability for (the cheapest variant). */
  sku: z.string(),
})
export type ProductSummary = z.infer<typeof ProductSummary>

export const LIST_SORTS = ['newest', 'price_asc', 'price_desc', 'name'] as const
export const ListSort = z.enum(LIST_SORTS)
export type ListSort = z.infer<typeof ListSort>

const boolParam = z.enum(['true', 'false']).transform((v) => v === 'true')
const centsParam = z.coerce.number().int().min(0).max(100_000_000)
const commaList = <T extends z.ZodType<string, string>>(item: T, max: number) =>
  z
    .string()
    .max(2000)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).max(max, `at most ${max} values`))

export const BrandName = z.string().min(1).max(80)

/** `GET /v1/categories/:slug/products` (and the edge's /api and /c/:slug). */
export const ProductListQuery = z
  .object({
    sort: ListSort.default('newest'),
    cursor: z.string().max(500).optional(),
    limit: z.coerce.number().int().min(1).max(60).default(24),
    brand: commaList(BrandName, 10).optional(),
    priceMin: centsParam.optional(),
    priceMax: centsParam.optional(),
    inStock: boolParam.optional(),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.priceMin !== undefined && q.priceMax !== undefined && q.priceMin > q.priceMax) {
      ctx.addIssue({ code: 'custom', path: ['priceMax'], message: 'must be at least priceMin' })
    }
  })
export type ProductListQuery = z.output<typeof ProductListQuery>

export const ProductListResponse = z.object({
  category: CategoryRef.extend({ path: z.array(CategoryRef), children: z.array(CategoryRef) }),
  products: z.array(ProductSummary),
  total: z.number().int(),
  nextCursor: z.string().nullable(),
  /** Brands in this category (ignoring the brand filter), for the filter list. */
  brands: z.array(z.object({ value: z.string(), count: z.number().int() })),
  sort: ListSort,
})
export type ProductListResponse = z.infer<typeof ProductListResponse>

/** A product's drop (a sale on one of its variants), as the edge adds it to product pages. */
export const Drop = z.object({
  saleId: SaleId,
  sku: z.string(),
  startsAt: z.string(),
  stock: z.number().int(),
  /** The waiting page. */
  url: z.string(),
})
export type Drop = z.infer<typeof Drop>

export const Variant = z.object({
  sku: z.string(),
  attributes: z.record(z.string(), z.string()),
  listPriceCents: z.number().int(),
  salePriceCents: z.number().int().nullable(),
  priceCents: z.number().int(),
  currency: z.string(),
  drop: Drop.nullable().optional(),
})
export type Variant = z.infer<typeof Variant>

export const Product = z.object({
  slug: Slug,
  name: z.string(),
  brand: z.string(),
  description: z.string(),
  category: CategoryRef.extend({ path: z.array(CategoryRef) }),
  images: z.array(ProductImage),
  attributes: z.record(z.string(), z.string()),
  variants: z.array(Variant),
  priceCents: z.number().int(),
  listPriceCents: z.number().int(),
  currency: z.string(),
  updatedAt: z.string(),
})
export type Product = z.infer<typeof Product>

/** What an operator reads back: the product, archived or not, with its version. */
export const AdminProduct = Product.extend({ status: z.enum(['active', 'archived']), version: z.number().int() })
export type AdminProduct = z.infer<typeof AdminProduct>

/** Sales linked to a catalog variant: scheduled or live drops (and those sold out within the last day). */
export const DropSummary = Drop.extend({
  productSlug: Slug,
  productName: z.string(),
  priceCents: z.number().int(),
  currency: z.string(),
  image: ProductImage.nullable(),
})
export type DropSummary = z.infer<typeof DropSummary>
export const DropsResponse = z.object({ drops: z.array(DropSummary) })
export type DropsResponse = z.infer<typeof DropsResponse>

export const HomeResponse = z.object({
  categories: z.array(CategoryNode),
  newArrivals: z.array(ProductSummary),
})
export type HomeResponse = z.infer<typeof HomeResponse>

export const MAX_AVAILABILITY_SKUS = 50
/** `GET /api/availability?skus=A,B` (and core's /v1/availability). */
export const AvailabilityQuery = z
  .object({ skus: commaList(Sku, MAX_AVAILABILITY_SKUS).refine((skus) => skus.length > 0, 'name at least one sku') })
  .strict()
export type AvailabilityQuery = z.output<typeof AvailabilityQuery>

/**
 * in_stock / low_stock / out_of_stock: everyday stock (core, Redis). drop_scheduled / drop_live / sold_out: the
 * SKU's drop, from the waiting room's frontier. unknown_sku: no such active variant. unknown: the edge cannot
 * tell right now (core unreachable and its last answer too old to repeat).
 */
export const AVAILABILITY_STATES = [
  'in_stock',
  'low_stock',
  'out_of_stock',
  'unknown_sku',
  'unknown',
  'drop_scheduled',
  'drop_live',
  'sold_out',
] as const
export const AvailabilityState = z.enum(AVAILABILITY_STATES)
export type AvailabilityState = z.infer<typeof AvailabilityState>
/** At or below this many units on hand an everyday SKU is `low_stock`. */
export const LOW_STOCK_UNITS = 5
export const AvailabilityItem = z.object({
  sku: z.string(),
  state: AvailabilityState,
  /** Units on hand (everyday) or units left in the drop; null when not known. */
  available: z.number().int().nullable(),
  saleId: SaleId.optional(),
  startsAt: z.string().optional(),
})
export type AvailabilityItem = z.infer<typeof AvailabilityItem>
export const AvailabilityResponse = z.object({ items: z.array(AvailabilityItem), at: z.number().int() })
export type AvailabilityResponse = z.infer<typeof AvailabilityResponse>

/**
 * `GET /v1/catalog/changes?after=<seq>`: edge cache tags changed after `seq`, each with the sequence number of its
 * last change. A tag not listed has version `floor` (tags older than the feed keeps, or everything after a reset).
 * `epoch` changes when the feed itself was lost (Redis emptied): everything an edge knew is void then.
 */
export const CatalogChangesQuery = z.object({ after: z.coerce.number().int().min(0).default(0) }).strict()
export const CatalogChanges = z.object({
  epoch: z.string(),
  seq: z.number().int(),
  floor: z.number().int(),
  tags: z.record(z.string(), z.number().int()),
})
export type CatalogChanges = z.infer<typeof CatalogChanges>

/** Edge cache tags: which cached answers a catalog change makes stale. */
export const CATALOG_TAGS = {
  product: (slug: string) => `p:${slug}`,
  category: (slug: string) => `c:${slug}`,
  tree: 'tree',
  home: 'home',
  search: 'search',
} as const

const HOUR = 3_600_000
/**
 * How fresh the edge keeps each kind of catalog answer (ms): `ttl` fresh, then `swr` served while refreshing in
 * the background, `sie` served while core fails. Versioned keys make catalog changes visible at once; these
 * bound everything else.
 */
export const CATALOG_CACHE_POLICIES = {
  product: { ttlMs: 60_000, swrMs: 10 * 60_000, sieMs: 24 * HOUR },
  listing: { ttlMs: 30_000, swrMs: 5 * 60_000, sieMs: 24 * HOUR },
  home: { ttlMs: 30_000, swrMs: 5 * 60_000, sieMs: 24 * HOUR },
  tree: { ttlMs: 60_000, swrMs: 10 * 60_000, sieMs: 24 * HOUR },
  search: { ttlMs: 30_000, swrMs: 2 * 60_000, sieMs: 24 * HOUR },
  /** Which SKUs have a drop, and when it starts (not its stock: that is the frontier's). */
  drops: { ttlMs: 2_000, swrMs: 10_000, sieMs: 1 * HOUR },
  /** Everyday stock: about a second old at most, and never repeated once it is 5 s old. */
  availability: { ttlMs: 1_000, swrMs: 0, sieMs: 5_000 },
} as const

// ---------------------------------------------------------------- search

export const SEARCH_SORTS = ['relevance', 'newest', 'price_asc', 'price_desc', 'name'] as const
export const SearchSort = z.enum(SEARCH_SORTS)
export type SearchSort = z.infer<typeof SearchSort>

/** `GET /v1/search` (and the edge's /api/search and /search). Prices in cents; lists comma-separated. */
export const SearchQuery = z
  .object({
    q: z.string().max(200).default(''),
    category: commaList(Slug, 10).optional(),
    brand: commaList(BrandName, 10).optional(),
    priceMin: centsParam.optional(),
    priceMax: centsParam.optional(),
    inStock: boolParam.optional(),
    sort: SearchSort.default('relevance'),
    cursor: z.string().max(500).optional(),
    limit: z.coerce.number().int().min(1).max(48).default(24),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.priceMin !== undefined && q.priceMax !== undefined && q.priceMin > q.priceMax) {
      ctx.addIssue({ code: 'custom', path: ['priceMax'], message: 'must be at least priceMin' })
    }
  })
export type SearchQuery = z.output<typeof SearchQuery>
export type SearchQueryInput = z.input<typeof SearchQuery>

/** The price facet's buckets, cents: [from, to). The last one is open-ended. */
export const PRICE_BUCKETS: ReadonlyArray<{ key: string; from: number | null; to: number | null }> = [
  { key: 'under-25', from: null, to: 2_500 },
  { key: '25-50', from: 2_500, to: 5_000 },
  { key: '50-100', from: 5_000, to: 10_000 },
  { key: '100-250', from: 10_000, to: 25_000 },
  { key: '250-500', from: 25_000, to: 50_000 },
  { key: '500-1000', from: 50_000, to: 100_000 },
  { key: '1000-up', from: 100_000, to: null },
]

export const FacetValue = z.object({
  value: z.string(),
  label: z.string(),
  count: z.number().int(),
  selected: z.boolean(),
})
export type FacetValue = z.infer<typeof FacetValue>
export const PriceFacetValue = z.object({
  key: z.string(),
  from: z.number().int().nullable(),
  to: z.number().int().nullable(),
  count: z.number().int(),
  selected: z.boolean(),
})
export type PriceFacetValue = z.infer<typeof PriceFacetValue>
/**
 * Each facet counts the products that match the query, `inStock`, and every selected filter except its own
 * (so choosing a brand does not hide the other brands). `category` counts products by their own category.
 */
export const SearchFacets = z.object({
  brand: z.array(FacetValue),
  category: z.array(FacetValue),
  price: z.array(PriceFacetValue),
})
export type SearchFacets = z.infer<typeof SearchFacets>

export const SearchHit = ProductSummary
export type SearchHit = ProductSummary

export const SearchResponse = z.object({
  q: z.string(),
  hits: z.array(SearchHit),
  total: z.number().int(),
  facets: SearchFacets,
  /** The query with its unknown words replaced by the closest known ones; null when every word was known. */
  didYouMean: z.string().nullable(),
  nextCursor: z.string().nullable(),
  sort: SearchSort,
  engine: z.enum(['postgres', 'elasticsearch']),
})
export type SearchResponse = z.infer<typeof SearchResponse>

export const SuggestQuery = z
  .object({ q: z.string().trim().min(1).max(100), limit: z.coerce.number().int().min(1).max(10).default(8) })
  .strict()
export type SuggestQuery = z.output<typeof SuggestQuery>
export const SuggestResponse = z.object({
  q: z.string(),
  suggestions: z.array(z.object({ text: z.string(), slug: Slug })),
})
export type SuggestResponse = z.infer<typeof SuggestResponse>

/**
 * What the catalog hands the search index for one product (the outbox drain reads it at the product's current
 * version). `version` only grows: an index never lets an older version overwrite a newer one.
 */
export const SearchDocument = z.object({
  productId: z.number().int(),
  version: z.number().int().min(1),
  active: z.boolean(),
  slug: Slug,
  name: z.string(),
  brand: z.string(),
  description: z.string(),
  /** Words of the variants' and product's attribute values ("Black", "256GB"). */
  attributes: z.string(),
  categoryId: z.number().int(),
  categorySlug: Slug,
  categoryName: z.string(),
  /** The category and its ancestors, root first. */
  categorySlugs: z.array(Slug),
  categoryNames: z.array(z.string()),
  priceCents: z.number().int(),
  listPriceCents: z.number().int(),
  currency: z.string(),
  inStock: z.boolean(),
  image: ProductImage.nullable(),
  sku: z.string(),
  createdAt: z.string(),
})
export type SearchDocument = z.infer<typeof SearchDocument>

export const ReindexReport = z.object({
  engine: z.enum(['postgres', 'elasticsearch']),
  index: z.string(),
  documents: z.number().int(),
  /** Changes that landed while the reindex ran, applied again on the new index. */
  replayed: z.number().int(),
  ms: z.number(),
})
export type ReindexReport = z.infer<typeof ReindexReport>

export const SearchStatus = z.object({
  engine: z.enum(['postgres', 'elasticsearch']),
  index: z.string(),
  documents: z.number().int(),
  outboxPending: z.number().int(),
  oldestPendingMs: z.number().nullable(),
})
export type SearchStatus = z.infer<typeof SearchStatus>

/**
 * The field and message of a bad query string: an unknown parameter is named as the field (zod reports
 * unknown keys at the root), otherwise the first issue's path.
 */
export function queryProblem(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]
  if (issue?.code === 'unrecognized_keys' && issue.keys[0] !== undefined) {
    return { field: issue.keys[0], message: `unknown query parameter ${issue.keys[0]}` }
  }
  return describeZodError(error)
}

/**
 * A query string as the catalog's schemas read it: empty parameters left out (an empty form field means "no
 * filter"), a repeated one joined with commas (`brand=A&brand=B` = `brand=A,B`, as checkboxes send it).
 */
export function queryObject(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of params) {
    if (value === '') continue
    out[name] = name in out ? `${out[name]},${value}` : value
  }
  return out
}
