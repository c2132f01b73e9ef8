/**
 * The cart routes on core, mounted by core/app.ts. A guest names its cart in `x-floodgate-cart`; a signed-in
 * shopper (Authorization: Bearer <access token>) has the account's cart.
 *   POST /v1/cart                      a guest cart (201), or the account's
 *   GET  /v1/cart                      lines with current price and availability
 *   PUT  /v1/cart/lines/:sku {quantity}, DELETE /v1/cart/lines/:sku
 *   POST /v1/cart/merge {cartId}       (signed in) a guest cart into the account's; login does it too
 *   POST /v1/cart/quote                (signed in) prices signed for 15 minutes
 *   POST /v1/cart/checkout {quote, paymentMethod}  (signed in, Idempotency-Key) 202 {orderId}; GET /v1/orders/:id
 * Bad input is a 4xx `{error:{code,message,field}}` and changes nothing.
 */
import { Hono, type Context } from 'hono'
import {
  CartId,
  CartLineBody,
  CheckoutCartRequest,
  HEADER_CART,
  MAX_ACCOUNT_BODY_BYTES,
  MergeCartRequest,
  Sku,
} from '../../contracts/index.ts'
import type { Accounts } from '../account/accounts.ts'
import { ApiError } from '../errors/api-error.ts'
import { readJson } from '../http/json-body.ts'
import type { Carts } from './carts.ts'
import { idempotencyKeyOf } from '../http/idempotency-key.ts'

const MAX_CHECKOUT_BODY_BYTES = 32 * 1024

export interface CartRoutesOptions {
  carts: Carts
  accounts: Pick<Accounts, 'authenticate'>
}

function skuParam(c: Context): string {
  const parsed = Sku.safeParse(c.req.param('sku'))
  if (!parsed.success) throw new ApiError('invalid_path', `sku: ${parsed.error.issues[0]?.message}`, 'sku')
  return parsed.data
}

function cartHeader(c: Context): string | undefined {
  const value = c.req.header(HEADER_CART)
  if (value === undefined) return undefined
  if (!CartId.safeParse(value).success)
    throw new ApiError('invalid_body', `${HEADER_CART} must look like cart_ followed by 32 hex chars`, HEADER_CART)
  return value
}

export function cartRoutes({ carts, accounts }: CartRoutesOptions): Hono {
  const app = new Hono()
  /** The account when the request carries an access token (a bad one is a 401, never a silent guest). */
  const accountOf = async (c: Context) => {
    const authorization = c.req.header('authorization')
    return authorization === undefined ? null : (await accounts.authenticate(authorization)).sub
  }
  const signedIn = async (c: Context) => (await accounts.authenticate(c.req.header('authorization'))).sub
  const cartOf = async (c: Context) => carts.resolve(await accountOf(c), cartHeader(c))

  app.post('/v1/cart', async (c) => {
    const account = await accountOf(c)
    if (account) return c.json(await carts.view(await carts.store.ofAccount(account)))
    return c.json(await carts.view(await carts.store.createGuest()), 201)
  })
  app.get('/v1/cart', async (c) => c.json(await carts.view(await cartOf(c))))
  app.put('/v1/cart/lines/:sku', async (c) => {
    const sku = skuParam(c)
    const cart = await cartOf(c)
    const { quantity } = await readJson(c, CartLineBody, MAX_ACCOUNT_BODY_BYTES)
    return c.json(await carts.setLine(cart, sku, quantity))
  })
  app.delete('/v1/cart/lines/:sku', async (c) => {
    const sku = skuParam(c)
    return c.json(await carts.removeLine(await cartOf(c), sku))
  })
  app.post('/v1/cart/merge', async (c) => {
    const account = await signedIn(c)
    const { cartId } = await readJson(c, MergeCartRequest, MAX_ACCOUNT_BODY_BYTES)
    return c.json(await carts.merge(account, cartId))
  })
  app.post('/v1/cart/quote', async (c) => c.json(await carts.quote(await signedIn(c))))
  app.post('/v1/cart/checkout', async (c) => {
    const account = await signedIn(c)
    const key = idempotencyKeyOf(c)
    const { quote, paymentMethod } = await readJson(c, CheckoutCartRequest, MAX_CHECKOUT_BODY_BYTES)
    return c.json(await carts.checkout(account, quote, paymentMethod, key), 202)
  })
  return app
}
