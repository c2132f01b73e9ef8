import type { CheckoutDeps, CheckoutInput } from '../checkout/deps.ts'

/** One cart checkout's saga input: everything its steps need, stored with the saga. */
export interface CartCheckoutInput {
  orderId: string
  cartId: string
  accountId: string
  shopper: string
  paymentMethod: string
  amountCents: number
  currency: string
  idempotencyKey: string
  createdAt: number
}

/** The drop checkout's (payment steps, gateway, policy) plus the cart's own transitions. */
export interface CartCheckoutDeps extends CheckoutDeps {
  /** Reservation released, units back in stock, order FAILED: idempotent. */
  releaseOrder(orderId: string, failure: string): Promise<void>
  /** The pivot: reservation sold and order CONFIRMED, while the reservation still holds. */
  confirmOrder(orderId: string): Promise<boolean>
}

/**
 * The shape the shared payment steps read (order id, amount, currency, payment method, keys). A cart order has
 * no sale or token; the saga stores `CartCheckoutInput`, never this, so reconciliation's drop-checkout
 * resumption (which parses a CheckoutJob) leaves cart sagas alone.
 */
export function asPayment(input: CartCheckoutInput): CheckoutInput {
  return {
    orderId: input.orderId,
    saleId: 'cart',
    tid: input.cartId,
    gen: 1,
    shopper: input.shopper,
    paymentMethod: input.paymentMethod,
    amountCents: input.amountCents,
    currency: input.currency,
    idempotencyKey: input.idempotencyKey,
    redeemedAt: input.createdAt,
  }
}
