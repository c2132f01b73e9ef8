/**
 * Test and bench helpers of the cart domain: a core with the catalog to shop from, a snapshot of everything a refused
 * cart request could have touched, and a crowd of accounts checking out one SKU at once.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { ACCESS_TOKEN_ISSUER, signAccessToken } from '../../contracts/index.ts'
import { startTestCore, type TestCore } from '../../test/support/core.ts'
import { accountSnapshot } from '../account/fixtures.ts'
import { PasswordHasher } from '../account/passwords.ts'
import { FIXTURE, importLines } from '../catalog/fixtures.ts'
import type { CoreConfig } from '../config.ts'
import type { Core } from '../core.ts'

export const CART_TABLES = [
  'carts',
  'cart_lines',
  'orders',
  'order_lines',
  'cart_reservations',
  'payments',
  'sagas',
] as const

/** Cart, order and account tables, and the catalog's variants (stock). */
export async function cartSnapshot(core: Core): Promise<Record<string, unknown>> {
  return accountSnapshot(core.db, [...CART_TABLES, 'accounts', 'catalog_variants'])
}

/** A test core with the fixed catalog imported, whose search sync and cart sweep run only when a test says. */
export async function startCartCore(env: Partial<Record<keyof CoreConfig, string>> = {}): Promise<TestCore> {
  const core = await startTestCore({ SEARCH_SYNC_INTERVAL_MS: '3600000', CART_SWEEP_INTERVAL_MS: '3600000', ...env })
  await importLines(core, FIXTURE)
  return core
}

export const cartHeader = (cartId: string) => ({ 'x-floodgate-cart': cartId })

export interface CrowdOptions {
  /** Shoppers (accounts) checking out at once, one unit each. */
  shoppers: number
  sku: string
  /** Units of `sku` in stock when the crowd starts. */
  stock: number
  paymentMethod?: string
}

export interface CrowdResult {
  concurrentCheckouts: number
  stock: number
  /** Orders CONFIRMED, and their units. */
  confirmed: number
  unitsSold: number
  failed: number
  /** Units sold beyond the stock (must be 0). */
  oversold: number
  /** Reservations neither sold nor released at the end (must be 0). */
  reservationsLeft: number
  stockLeft: number
  checkoutCalls: number
  ms: number
}

/**
 * `shoppers` signed-in accounts, each with one unit of `sku` in its cart and a quote, check out at the same
 * moment through core's HTTP app; a shopper refused for stock tries again (same Idempotency-Key) whenever a
 * unit comes back, until the SKU is sold out for good. Then every saga is let finish and the books are read.
 */
export async function checkoutCrowd(core: Core, options: CrowdOptions): Promise<CrowdResult> {
  const { shoppers, sku, stock } = options
  const set = await core.app.request(`/admin/catalog/variants/${sku}/stock`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ quantity: stock }),
  })
  if (set.status !== 200) throw new Error(`stock of ${sku}: ${set.status}`)
  const hash = await new PasswordHasher(10).hash('crowd password 0000')
  const people: Array<{ token: string; quote: string }> = []
  const run = randomBytes(4).toString('hex')
  for (let i = 0; i < shoppers; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, shoppers - i) }, async (_, j) => {
        const account = await core.accounts.store.create(`crowd-${run}-${i + j}@example.com`, hash, null)
        const cart = await core.carts.store.ofAccount(account!.id)
        await core.carts.store.setLine(cart.id, sku, 1, 50)
        const quote = await core.carts.quote(account!.id)
        const now = Math.floor(Date.now() / 1000)
        const claims = {
          iss: ACCESS_TOKEN_ISSUER,
          sub: account!.id,
          role: 'customer' as const,
          sid: 'fam_crowd',
          iat: now,
          exp: now + 600,
        }
        return { token: await signAccessToken(claims, core.config.ACCESS_TOKEN_KEY), quote: quote.quote }
      }),
    )
    people.push(...batch)
  }

  let state = { stock, held: 0 }
  let waiters: Array<() => void> = []
  let polling = true
  const poller = (async () => {
    while (polling) {
      await sleep(20)
      const { rows } = await core.db.query<{ stock: number; held: number }>(
        `SELECT (SELECT stock FROM catalog_variants WHERE sku = $1) AS stock,
                (SELECT count(*)::int FROM cart_reservations WHERE status = 'held') AS held`,
        [sku],
      )
      state = rows[0]!
      const woken = waiters
      waiters = []
      for (const wake of woken) wake()
    }
  })()
  const nextState = () => new Promise<typeof state>((resolve) => waiters.push(() => resolve(state)))

  let calls = 0
  const started = performance.now()
  await Promise.all(
    people.map(async (person, i) => {
      for (;;) {
        calls++
        const res = await core.app.request('/v1/cart/checkout', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${person.token}`,
            'content-type': 'application/json',
            'idempotency-key': `crowd-${run}-${i}`,
          },
          body: JSON.stringify({
            quote: person.quote,
            ...(options.paymentMethod ? { paymentMethod: options.paymentMethod } : {}),
          }),
        })
        if (res.status === 202) return
        const body = (await res.json()) as { error?: { code: string } }
        if (res.status !== 409 || body.error?.code !== 'insufficient_stock')
          throw new Error(`checkout: ${res.status} ${JSON.stringify(body)}`)
        // Wait for a unit to come back (a declined payment), or for the sale of every unit to be final.
        for (;;) {
          const seen = await nextState()
          if (seen.stock > 0) break
          if (seen.held === 0) return
        }
      }
    }),
  )
  await core.carts.settled()
  const ms = performance.now() - started
  polling = false
  await poller

  const { rows } = await core.db.query<{
    confirmed: number
    failed: number
    units: number
    left: number
    stock: number
  }>(
    `SELECT count(*) FILTER (WHERE o.status = 'CONFIRMED')::int AS confirmed,
            count(*) FILTER (WHERE o.status = 'FAILED')::int AS failed,
            coalesce(sum(l.quantity) FILTER (WHERE o.status = 'CONFIRMED'), 0)::int AS units,
            (SELECT count(*)::int FROM cart_reservations WHERE status = 'held') AS left,
            (SELECT stock FROM catalog_variants WHERE sku = $1) AS stock
       FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.kind = 'cart' AND l.sku = $1
        AND o.idempotency_key LIKE $2`,
    [sku, `crowd-${run}-%`],
  )
  const books = rows[0]!
  return {
    concurrentCheckouts: shoppers,
    stock,
    confirmed: books.confirmed,
    unitsSold: books.units,
    failed: books.failed,
    oversold: Math.max(0, books.units - stock),
    reservationsLeft: books.left,
    stockLeft: books.stock,
    checkoutCalls: calls,
    ms,
  }
}
