/**
 * Test helpers of the catalog and search domains: calling core as an operator or a shopper, a small fixed
 * catalog, and a snapshot of everything a refused request could have touched.
 */
import type { Redis } from 'ioredis'
import { expect } from 'vitest'
import type pg from 'pg'
import type { Core } from '../core.ts'
import type { SampleLine } from './sample-catalog.ts'
import { redisValues, tableDigests } from '../../test/support/state.ts'

export interface Answer {
  status: number
  json: any // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers
}

/** The answer is the error `code` with `status` (and names `field`, when given); the body is shown if not. */
export function expectError(answer: Answer, status: number, code: string, field?: string): void {
  expect(answer.status, JSON.stringify(answer.json)).toBe(status)
  expect(answer.json.error.code).toBe(code)
  if (field !== undefined) expect(answer.json.error.field).toBe(field)
}

export async function call(
  core: Core,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
  }
  const res = await core.app.request(path, init)
  const text = await res.text()
  let json: unknown = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = text
  }
  return { status: res.status, json, headers: res.headers }
}

export const adminCall = (
  core: Core,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) => call(core, method, path, body, { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, ...headers })

/** A small catalog: two departments, five categories, seven products (one with accents, one out of stock). */
export const FIXTURE: SampleLine[] = [
  { type: 'category', slug: 'electronics', name: 'Electronics', parent: null, position: 0 },
  { type: 'category', slug: 'audio', name: 'Audio', parent: 'electronics', position: 0 },
  { type: 'category', slug: 'headphones', name: 'Headphones', parent: 'audio', position: 0 },
  { type: 'category', slug: 'consoles', name: 'Consoles', parent: 'electronics', position: 1 },
  { type: 'category', slug: 'kitchen', name: 'Kitchen', parent: null, position: 1 },
  {
    type: 'product',
    slug: 'sonix-wireless-headphones',
    name: 'Sonix Wireless Headphones',
    brand: 'Sonix',
    category: 'headphones',
    description: 'Forty hours of battery.',
    images: [{ url: '/img/p/sonix-wireless-headphones/1.svg', alt: 'Sonix Wireless Headphones' }],
    variants: [
      { sku: 'SONIX-BLK', attributes: { color: 'Black' }, listPriceCents: 24900, salePriceCents: 19900, stock: 12 },
      { sku: 'SONIX-WHT', attributes: { color: 'White' }, listPriceCents: 24900, stock: 0 },
    ],
  },
  {
    type: 'product',
    slug: 'auralis-studio-headphones',
    name: 'Auralis Studio Headphones',
    brand: 'Auralis',
    category: 'headphones',
    description: 'Open-back, for mixing.',
    variants: [{ sku: 'AURALIS-STUDIO', listPriceCents: 39900, stock: 3 }],
  },
  {
    type: 'product',
    slug: 'koto-sport-headphones',
    name: 'Koto Sport Headphones',
    brand: 'Koto',
    category: 'headphones',
    variants: [{ sku: 'KOTO-SPORT', listPriceCents: 5900, stock: 0 }],
  },
  {
    type: 'product',
    slug: 'bassline-party-speaker',
    name: 'Bassline Party Speaker',
    brand: 'Bassline',
    category: 'audio',
    variants: [{ sku: 'BASSLINE-PARTY', listPriceCents: 12900, stock: 40 }],
  },
  {
    type: 'product',
    slug: 'floodgate-demo-console',
    name: 'Floodgate Demo Console',
    brand: 'Floodgate',
    category: 'consoles',
    variants: [{ sku: 'FG-CONSOLE-1', listPriceCents: 49900, stock: 0 }],
  },
  {
    type: 'product',
    slug: 'creme-brulee-torch',
    name: 'Crème Brûlée Torch',
    brand: 'Cuisinière',
    category: 'kitchen',
    description: 'Caramelised sugar tops.',
    variants: [{ sku: 'BRULEE-TORCH', listPriceCents: 3900, stock: 8 }],
  },
  {
    type: 'product',
    slug: 'caffe-rossi-espresso-machine',
    name: 'Caffè Rossi Espresso Machine',
    brand: 'Caffè Rossi',
    category: 'kitchen',
    variants: [
      { sku: 'ROSSI-STEEL', attributes: { finish: 'Steel' }, listPriceCents: 89900, stock: 2 },
      { sku: 'ROSSI-COPPER', attributes: { finish: 'Copper' }, listPriceCents: 99900, salePriceCents: 94900, stock: 1 },
    ],
  },
]

/** Imports lines through the admin API, in batches, and fails unless every line was accepted. */
export async function importLines(core: Core, lines: SampleLine[], batch = 500): Promise<void> {
  for (let i = 0; i < lines.length; i += batch) {
    const items = lines.slice(i, i + batch).map((item, j) => ({ line: i + j + 1, item }))
    const res = await adminCall(core, 'POST', '/admin/catalog/import', { items })
    if (res.status !== 200 || res.json.errors)
      throw new Error(`import failed: ${res.status} ${JSON.stringify(res.json).slice(0, 500)}`)
  }
}

/** Drains the search outbox now (the job would within a second; tests should not wait for it). */
export async function drainSearch(core: Core): Promise<void> {
  const res = await adminCall(core, 'POST', '/admin/search/drain')
  if (res.status !== 200) throw new Error(`drain failed: ${res.status} ${JSON.stringify(res.json)}`)
}

const CATALOG_TABLES = [
  'catalog_categories',
  'catalog_products',
  'catalog_variants',
  'catalog_outbox',
  'search_documents',
  'search_terms',
  'sales',
]

/** Every catalog and search table (row count + digest) and every catalog key in Redis. */
export async function catalogSnapshot(db: pg.Pool, redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  return { ...(await tableDigests(db, CATALOG_TABLES)), ...(await redisValues(redis, `${prefix}:{catalog}:*`)) }
}
