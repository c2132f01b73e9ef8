/**
 * Cart checkouts (everyday stock, signed-in accounts) run beside the drop; api and worker are killed with
 * SIGKILL while cart checkouts are reserved and paying. After the restart every cart saga must end (resumed by
 * the worker's cart sweep), no reserved unit may be lost (stock left + units sold = stock at the start), every
 * confirmed cart order is captured, no failed one keeps an authorization, and no cart loses a line it did not buy.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Drill, DrillContext } from '../drill.ts'
import { adminHeaders, http } from '../sim-sale.ts'

const SKU = 'DRILL-CART-1'
const STOCK = 40
const SHOPPERS = 60
const SETTLE_MS = 60_000

interface Shopper {
  token: string
  quote: string
  key: string
  answer?: number
}
const shoppers: Shopper[] = []

async function checkout(ctx: DrillContext, s: Shopper): Promise<void> {
  const res = await http(`${ctx.apiUrl}/v1/cart/checkout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', 'idempotency-key': s.key },
    body: JSON.stringify({ quote: s.quote }),
  })
  if (res) s.answer = res.status
}

async function cartBooks(ctx: DrillContext) {
  const { rows } = await ctx.db.query<{
    stock: number
    sold: number
    held: number
    running: number
    confirmed: number
    uncaptured: number
    open: number
    lines: number
    ordered: number
  }>(
    `SELECT (SELECT stock FROM catalog_variants WHERE sku = $1) AS stock,
            (SELECT coalesce(sum(quantity), 0)::int FROM order_lines l JOIN cart_reservations r USING (order_id)
              WHERE r.status = 'sold' AND l.sku = $1) AS sold,
            (SELECT count(*)::int FROM cart_reservations WHERE status = 'held') AS held,
            (SELECT count(*)::int FROM sagas
              WHERE kind = 'cart-checkout' AND status IN ('RUNNING', 'COMPENSATING')) AS running,
            (SELECT count(*)::int FROM orders WHERE kind = 'cart' AND status = 'CONFIRMED') AS confirmed,
            (SELECT count(*)::int FROM orders o LEFT JOIN payments p ON p.order_id = o.id
              WHERE o.kind = 'cart' AND o.status = 'CONFIRMED' AND p.status IS DISTINCT FROM 'CAPTURED') AS uncaptured,
            (SELECT count(*)::int FROM orders o JOIN payments p ON p.order_id = o.id
              WHERE o.kind = 'cart' AND o.status = 'FAILED' AND p.status IN ('AUTHORIZED', 'CAPTURED')) AS open,
            (SELECT count(*)::int FROM cart_lines WHERE sku = $1) AS lines,
            (SELECT count(*)::int FROM orders WHERE kind = 'cart') AS ordered`,
    [SKU],
  )
  return rows[0]!
}

export const drill: Drill = {
  name: 'cart-checkout-kill-9',
  before: async (ctx) => {
    const item = {
      type: 'product',
      slug: 'drill-cart-kettle',
      name: 'Drill kettle',
      brand: 'Floodgate',
      category: 'drill-kitchen',
      variants: [{ sku: SKU, listPriceCents: 2500, stock: STOCK }],
    }
    const category = { type: 'category', slug: 'drill-kitchen', name: 'Kitchen', parent: null, position: 0 }
    const imported = await http(`${ctx.apiUrl}/admin/catalog/import`, {
      method: 'POST',
      headers: adminHeaders,
      body: JSON.stringify({
        items: [
          { line: 1, item: category },
          { line: 2, item },
        ],
      }),
    })
    if (imported?.status !== 200) throw new Error(`catalog import: ${JSON.stringify(imported)}`)
    shoppers.length = 0
    for (let i = 0; i < SHOPPERS; i++) {
      const email = `drill-cart-${i}-${Date.now()}@example.com`
      const auth = await http(`${ctx.apiUrl}/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'drill password 0000' }),
      })
      if (auth?.status !== 201) throw new Error(`register: ${JSON.stringify(auth)}`)
      const bearer = { authorization: `Bearer ${auth.body.accessToken}` }
      const put = await http(`${ctx.apiUrl}/v1/cart/lines/${SKU}`, {
        method: 'PUT',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ quantity: 1 }),
      })
      if (put?.status !== 200) throw new Error(`cart line: ${JSON.stringify(put)}`)
      const quote = await http(`${ctx.apiUrl}/v1/cart/quote`, { method: 'POST', headers: bearer })
      if (quote?.status !== 200) throw new Error(`quote: ${JSON.stringify(quote)}`)
      shoppers.push({ token: auth.body.accessToken, quote: quote.body.quote, key: `drill-cart-${i}-0001` })
    }
  },
  fault: async (ctx) => {
    const inFlight = shoppers.map((s) => checkout(ctx, s))
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline && (await cartBooks(ctx)).held < 10) await sleep(5)
    const at = await cartBooks(ctx)
    ctx.api.kill9()
    ctx.worker.kill9()
    ctx.notes.push(`killed api + worker with ${at.held} cart reservations held, ${at.running} cart sagas running`)
    await Promise.all(inFlight)
    await sleep(1000)
    await Promise.all([ctx.api.start(), ctx.worker.start()])
    // A checkout whose answer was lost is sent again with its key: the same order, never a second one.
    await Promise.all(shoppers.filter((s) => s.answer === undefined).map((s) => checkout(ctx, s)))
    return Date.now()
  },
  after: async (ctx) => {
    const deadline = Date.now() + SETTLE_MS
    let books = await cartBooks(ctx)
    while (Date.now() < deadline && (books.held > 0 || books.running > 0)) {
      await sleep(250)
      books = await cartBooks(ctx)
    }
    const problems: string[] = []
    if (books.held > 0 || books.running > 0)
      problems.push(`${books.held} reservations held, ${books.running} cart sagas running`)
    if (books.stock + books.sold !== STOCK)
      problems.push(`units lost: ${books.stock} in stock + ${books.sold} sold != ${STOCK}`)
    if (books.uncaptured > 0) problems.push(`${books.uncaptured} confirmed cart orders not captured`)
    if (books.open > 0) problems.push(`${books.open} failed cart orders keep an authorization`)
    if (books.lines + books.ordered !== SHOPPERS)
      problems.push(`carts lost lines: ${books.lines} left + ${books.ordered} ordered != ${SHOPPERS}`)
    ctx.notes.push(
      `cart: ${books.confirmed} confirmed of ${STOCK} units, ${books.ordered} orders, ` +
        `${books.lines} carts still holding their line`,
    )
    if (problems.length) throw new Error(`cart checkout did not recover: ${problems.join('; ')}`)
  },
}
