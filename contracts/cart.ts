/**
 * Carts and everyday checkouts (core /v1/cart*): bodies and answers. A guest cart is known by its id (header
 * `x-floodgate-cart`); a signed-in shopper's by the account.
 */
import { z } from 'zod'
import { OrderId } from './ids.ts'
import { Sku } from './catalog.ts'

export const CART_ID_PATTERN = /^cart_[a-f0-9]{32}$/
export const HEADER_CART = 'x-floodgate-cart'
/** Most units of one SKU a cart holds (merging caps at it too). */
export const MAX_LINE_QUANTITY = 10
/** Most lines in one cart. */
export const MAX_CART_LINES = 50
/** How long a signed price quote holds its prices (seed 003 §5.4). */
export const QUOTE_TTL_SECONDS = 15 * 60

export const CartId = z.string().regex(CART_ID_PATTERN, 'must look like cart_ followed by 32 hex chars')

export const CartLineBody = z.object({ quantity: z.number().int().min(1).max(MAX_LINE_QUANTITY) }).strict()
export const MergeCartRequest = z.object({ cartId: CartId }).strict()
export const CheckoutCartRequest = z
  .object({
    /** The signed quote from POST /v1/cart/quote: its prices are the ones charged. */
    quote: z.string().min(1).max(16_384),
    paymentMethod: z.string().min(1).max(100).default('pm_card_visa'),
  })
  .strict()

export const CartLine = z.object({
  sku: Sku,
  name: z.string().nullable(),
  quantity: z.number().int(),
  unitPriceCents: z.number().int().nullable(),
  currency: z.string().nullable(),
  lineTotalCents: z.number().int().nullable(),
  state: z.enum(['in_stock', 'low_stock', 'out_of_stock', 'unknown_sku', 'drop']),
  /** Units on hand now (null: unknown SKU). */
  available: z.number().int().nullable(),
  /** A drop's SKU: bought in its waiting room, not here. */
  waitingRoom: z.string().nullable(),
})
export type CartLine = z.infer<typeof CartLine>

export const CartView = z.object({
  cartId: CartId,
  accountId: z.string().nullable(),
  lines: z.array(CartLine),
  /** Sum of the lines that can be bought now, in `currency`. */
  subtotalCents: z.number().int(),
  currency: z.string().nullable(),
  /** What a merge changed: quantities capped, lines out of stock. */
  notices: z.array(z.object({ sku: Sku, kind: z.enum(['capped', 'out_of_stock', 'drop']) })).optional(),
})
export type CartView = z.infer<typeof CartView>

export const QuoteLine = z.object({
  sku: Sku,
  quantity: z.number().int().min(1),
  unitPriceCents: z.number().int().min(0),
})
export const QuotePayload = z
  .object({
    typ: z.literal('cq'),
    cart: CartId,
    acc: z.string(),
    lines: z.array(QuoteLine).min(1),
    total: z.number().int().min(0),
    currency: z.string().length(3),
    exp: z.number().int().positive(),
  })
  .strict()
export type QuotePayload = z.infer<typeof QuotePayload>

export const QuoteResponse = z.object({
  quote: z.string(),
  lines: z.array(QuoteLine),
  totalCents: z.number().int(),
  currency: z.string(),
  expiresAt: z.string(),
})
export type QuoteResponse = z.infer<typeof QuoteResponse>

export const CheckoutCartResponse = z.object({
  orderId: OrderId,
  status: z.literal('pending'),
  totalCents: z.number().int(),
})
export type CheckoutCartResponse = z.infer<typeof CheckoutCartResponse>
