import { createHash } from 'node:crypto'
import {
  MAX_CART_LINES,
  MAX_LINE_QUANTITY,
  QUOTE_TTL_SECONDS,
  shopperOfAccount,
  type CartLine,
  type CartView,
  type CheckoutCartResponse,
  type QuoteResponse,
} from '../../contracts/index.ts'
import { availabilityOf, type Catalog } from '../catalog/catalog.ts'
import type { CartItem } from '../catalog/catalog-store.ts'
import type { CheckoutDeps } from '../checkout/deps.ts'
import { ApiError } from '../errors/api-error.ts'
import type { Logger } from '../logger.ts'
import { runSaga, type SagaStore } from '../saga/saga.ts'
import { CartStore, type CartRow, type LineRow } from './cart-store.ts'
import type { CartCheckoutDeps, CartCheckoutInput } from './deps.ts'
import { signQuote, verifyQuote } from './quote.ts'
import { cartCheckoutWorkflow, cartCheckoutWorkflowId } from './workflows/cart-checkout.ts'

export interface CartsOptions {
  store: CartStore
  catalog: Catalog
  sagas: SagaStore
  checkoutDeps: CheckoutDeps
  logger: Logger
  quoteSecret: string
  /** How long a checkout's stock stays reserved while its payment runs. */
  reservationSeconds: number
  /** A cart saga not moved for this long is run again by the sweep (its process died, or the gateway was down). */
  staleSagaMs: number
  now?: () => number
}

/** Reservations released per sweep run. */
const SWEEP_BATCH = 500

const waitingRoomOf = (saleId: string) => `/sales/${saleId}`

function dropRefusal(item: CartItem): ApiError {
  const room = waitingRoomOf(item.dropSaleId!)
  return new ApiError('drop_sku', `${item.sku} is sold as a drop: join its waiting room at ${room}`, item.sku, {
    link: `<${room}>; rel="waiting-room"`,
  })
}

function lineOf(row: LineRow, item: CartItem | undefined): CartLine {
  if (!item) {
    return {
      sku: row.sku,
      name: null,
      quantity: row.quantity,
      unitPriceCents: null,
      currency: null,
      lineTotalCents: null,
      state: 'unknown_sku',
      available: null,
      waitingRoom: null,
    }
  }
  const stock = availabilityOf(item.sku, item.active ? item.stock : 0).state as CartLine['state']
  const state = item.dropSaleId ? 'drop' : stock
  return {
    sku: row.sku,
    name: item.name,
    quantity: row.quantity,
    unitPriceCents: item.priceCents,
    currency: item.currency,
    lineTotalCents: item.priceCents * row.quantity,
    state,
    available: item.active ? item.stock : 0,
    waitingRoom: item.dropSaleId ? waitingRoomOf(item.dropSaleId) : null,
  }
}

/**
 * Carts and their checkout: guest carts by id, one cart per account, merged at login; each line priced and
 * checked against the catalog when shown; checkout locks the prices of a signed quote, reserves every line's
 * stock at once and runs the cart-checkout saga (authorize, confirm, capture) on the drop's payment steps.
 */
export class Carts {
  readonly store: CartStore
  private readonly now: () => number
  private readonly deps: CartCheckoutDeps
  /** Sagas this process is running, so the sweep does not start a second run of one. */
  private readonly running = new Map<string, Promise<unknown>>()

  constructor(private readonly options: CartsOptions) {
    this.store = options.store
    this.now = options.now ?? Date.now
    this.deps = {
      ...options.checkoutDeps,
      releaseOrder: (orderId, failure) => this.release(orderId, failure),
      confirmOrder: (orderId) => this.store.confirm(orderId),
    }
  }

  /** The cart a request names: the account's when signed in, else the guest cart of `cartId`. */
  async resolve(accountId: string | null, cartId: string | undefined): Promise<CartRow> {
    if (accountId) return this.store.ofAccount(accountId)
    if (!cartId)
      throw new ApiError('cart_not_found', 'send the guest cart id in x-floodgate-cart, or sign in', 'x-floodgate-cart')
    const cart = await this.store.cart(cartId)
    if (!cart || cart.account_id !== null || cart.merged_into !== null) {
      throw new ApiError('cart_not_found', `no guest cart ${cartId}`, 'x-floodgate-cart')
    }
    return cart
  }

  async view(cart: CartRow, notices?: CartView['notices']): Promise<CartView> {
    const rows = await this.store.lines(cart.id)
    const items = new Map((await this.options.catalog.cartItems(rows.map((r) => r.sku))).map((i) => [i.sku, i]))
    const lines = rows.map((row) => lineOf(row, items.get(row.sku)))
    const buyable = lines.filter((l) => l.state === 'in_stock' || l.state === 'low_stock')
    return {
      cartId: cart.id,
      accountId: cart.account_id,
      lines,
      subtotalCents: buyable.reduce((sum, l) => sum + (l.lineTotalCents ?? 0), 0),
      currency: buyable[0]?.currency ?? null,
      ...(notices ? { notices } : {}),
    }
  }

  async setLine(cart: CartRow, sku: string, quantity: number): Promise<CartView> {
    const [item] = await this.options.catalog.cartItems([sku])
    if (!item || !item.active) throw new ApiError('variant_not_found', `no active variant ${sku}`, 'sku')
    if (item.dropSaleId) throw dropRefusal(item)
    await this.store.setLine(cart.id, sku, quantity, MAX_CART_LINES)
    return this.view(cart)
  }

  async removeLine(cart: CartRow, sku: string): Promise<CartView> {
    if (!(await this.store.removeLine(cart.id, sku)))
      throw new ApiError('cart_line_not_found', `no line ${sku} in this cart`, 'sku')
    return this.view(cart)
  }

  /** The guest cart merged into the account's (idempotent), with what changed: capped or out-of-stock lines. */
  async merge(accountId: string, guestCartId: string): Promise<CartView> {
    const { capped } = await this.store.merge(guestCartId, accountId, MAX_LINE_QUANTITY)
    const cart = await this.store.ofAccount(accountId)
    const view = await this.view(cart)
    const notices: NonNullable<CartView['notices']> = capped.map((sku) => ({ sku, kind: 'capped' as const }))
    for (const line of view.lines) {
      if (line.state === 'out_of_stock' || line.state === 'unknown_sku')
        notices.push({ sku: line.sku, kind: 'out_of_stock' })
      if (line.state === 'drop') notices.push({ sku: line.sku, kind: 'drop' })
    }
    return { ...view, notices }
  }

  /** Every line priced now and signed for QUOTE_TTL_SECONDS; refused while a line cannot be bought. */
  async quote(accountId: string): Promise<QuoteResponse> {
    const cart = await this.store.ofAccount(accountId)
    const view = await this.view(cart)
    if (!view.lines.length) throw new ApiError('cart_empty', 'the cart is empty')
    for (const line of view.lines) {
      if (line.state === 'drop')
        throw new ApiError(
          'drop_sku',
          `${line.sku} is sold as a drop: join its waiting room at ${line.waitingRoom}`,
          line.sku,
        )
      if (line.state === 'out_of_stock' || line.state === 'unknown_sku' || (line.available ?? 0) < line.quantity) {
        throw new ApiError(
          'insufficient_stock',
          `not enough stock of ${line.sku} (${line.available ?? 0} left)`,
          line.sku,
        )
      }
    }
    const currencies = new Set(view.lines.map((l) => l.currency))
    if (currencies.size !== 1) throw new ApiError('quote_invalid', 'a cart is checked out in one currency; split it')
    const lines = view.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPriceCents: l.unitPriceCents! }))
    const exp = Math.floor(this.now() / 1000) + QUOTE_TTL_SECONDS
    const payload = {
      typ: 'cq' as const,
      cart: cart.id,
      acc: accountId,
      lines,
      total: view.subtotalCents,
      currency: view.currency!,
      exp,
    }
    return {
      quote: signQuote(payload, this.options.quoteSecret),
      lines,
      totalCents: payload.total,
      currency: payload.currency,
      expiresAt: new Date(exp * 1000).toISOString(),
    }
  }

  /**
   * Checks the quote (signature, expiry, this account's cart, exactly its lines now), then in one transaction
   * takes every line's stock (SKU order, all or none), writes the PENDING order and its reservation and empties
   * those lines; then runs the saga. The same Idempotency-Key gives the same order, once.
   */
  async checkout(
    accountId: string,
    signed: string,
    paymentMethod: string,
    idempotencyKey: string,
  ): Promise<CheckoutCartResponse> {
    const verdict = verifyQuote(signed, this.options.quoteSecret, this.now())
    if (!verdict.ok) {
      throw new ApiError(
        verdict.code,
        verdict.code === 'quote_expired'
          ? 'the price quote has expired: ask for a new one'
          : 'the price quote is not valid',
        'quote',
      )
    }
    const quote = verdict.quote
    const digest = createHash('sha256').update(`cart:${accountId}:${idempotencyKey}`).digest('hex')
    const orderId = `ord_${digest.slice(0, 32)}`
    const shopper = await shopperOfAccount(accountId)
    const replay = await this.replay(orderId, shopper)
    if (replay) return replay
    const cart = await this.store.ofAccount(accountId)
    if (quote.acc !== accountId || quote.cart !== cart.id)
      throw new ApiError('quote_invalid', 'this quote is for another cart', 'quote')
    const now = await this.store.lines(cart.id)
    const same =
      now.length === quote.lines.length &&
      quote.lines.every((q, i) => now[i]?.sku === q.sku && now[i]?.quantity === q.quantity)
    if (!same) throw new ApiError('quote_invalid', 'the cart changed since this quote: ask for a new one', 'quote')
    const items = new Map((await this.options.catalog.cartItems(quote.lines.map((l) => l.sku))).map((i) => [i.sku, i]))
    for (const line of quote.lines) {
      const item = items.get(line.sku)
      if (item?.dropSaleId) throw dropRefusal(item)
    }
    const input: CartCheckoutInput = {
      orderId,
      cartId: cart.id,
      accountId,
      shopper,
      paymentMethod,
      amountCents: quote.total,
      currency: quote.currency,
      idempotencyKey,
      createdAt: this.now(),
    }
    try {
      await this.options.catalog.withStockTaken(quote.lines, async (client) => {
        await this.store.placeOrder(client, {
          ...input,
          lines: quote.lines.map((l) => ({ ...l, name: items.get(l.sku)?.name ?? l.sku })),
          expiresAt: new Date(this.now() + this.options.reservationSeconds * 1000),
        })
        // Recorded with the order: a process that dies before running it leaves it for the sweep to resume.
        await this.options.sagas.create(orderId, cartCheckoutWorkflowId, input, client)
      })
    } catch (error) {
      // The same key at the same time from another request: its transaction won, ours rolled back (stock too).
      if ((error as { code?: string }).code === '23505') {
        const again = await this.replay(orderId, shopper)
        if (again) return again
      }
      throw error
    }
    this.start(input)
    return { orderId, status: 'pending', totalCents: quote.total }
  }

  private async replay(orderId: string, shopper: string): Promise<CheckoutCartResponse | null> {
    const existing = await this.store.existingOrder(orderId)
    if (!existing) return null
    if (existing.shopper !== shopper)
      throw new ApiError(
        'idempotency_key_conflict',
        'this Idempotency-Key was used for another order',
        'idempotency-key',
      )
    return { orderId, status: 'pending', totalCents: Number(existing.amount_cents) }
  }

  /** Runs (or resumes) a checkout's saga in this process; failures that are not final leave it for the sweep. */
  private start(input: CartCheckoutInput): Promise<unknown> {
    const known = this.running.get(input.orderId)
    if (known) return known
    const run = runSaga(cartCheckoutWorkflow, this.options.sagas, input.orderId, input, this.deps)
      .catch((err) =>
        this.options.logger.warn(
          { orderId: input.orderId, err: (err as Error).message },
          'cart checkout stopped; the sweep resumes it',
        ),
      )
      .finally(() => this.running.delete(input.orderId))
    this.running.set(input.orderId, run)
    return run
  }

  /** Resolves once every saga this process started has stopped (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()])
  }

  private async release(orderId: string, failure: string): Promise<void> {
    await this.options.catalog.withStockReturned(async (client) => ({
      lines: await this.store.release(client, orderId, failure),
      result: null,
    }))
  }

  /**
   * Reservations past their expiry go back to stock (their order FAILED; a saga still paying then fails at the
   * pivot and voids), and cart sagas that stopped moving are run again.
   */
  async sweep(): Promise<{ released: number; resumed: number }> {
    const expired = await this.store.expired(SWEEP_BATCH)
    for (const orderId of expired) await this.release(orderId, 'reservation_expired')
    const stale = await this.store.staleSagas(cartCheckoutWorkflowId, this.options.staleSagaMs, SWEEP_BATCH)
    let resumed = 0
    for (const saga of stale) {
      if (this.running.has(saga.id)) continue
      resumed++
      void this.start(saga.input as CartCheckoutInput)
    }
    return { released: expired.length, resumed }
  }
}
