/**
 * What core needs from a payment provider: authorize and capture separately (manual capture),
 * so a card is only charged after the order is durably confirmed, and an authorization can be
 * voided when the saga gives the unit back. Every call carries an idempotency key that is
 * derived from the order id and is the same on every retry.
 */
export interface PaymentGateway {
  readonly name: string
  authorize(request: AuthorizeRequest): Promise<AuthorizeResult>
  capture(request: { ref: string; amountCents: number; idempotencyKey: string }): Promise<void>
  void(request: { ref: string; idempotencyKey: string }): Promise<void>
  /** Gives back part or all of a captured payment. The key is per refund, stable across retries. */
  refund(request: RefundCall): Promise<{ refundRef: string }>
  /**
   * What the gateway itself knows about an order's payment: by `ref` when known, otherwise by the order
   * id (an authorization whose answer was lost). Used by webhooks and reconciliation, never trusted less
   * than an event.
   */
  retrieve(request: { orderId: string; ref?: string | null }): Promise<PaymentSnapshot>
}

export interface AuthorizeRequest {
  orderId: string
  amountCents: number
  currency: string
  paymentMethod: string
  idempotencyKey: string
}

export type AuthorizeResult = { status: 'authorized'; ref: string } | { status: 'declined'; reason: string }

/**
 * none: the gateway never saw this order; authorized: funds held (Stripe requires_capture);
 * captured: charged (succeeded); voided: authorization cancelled; declined: the card said no;
 * processing: the gateway has not decided yet.
 */
export type PaymentState = 'none' | 'authorized' | 'captured' | 'voided' | 'declined' | 'processing'

export interface PaymentSnapshot {
  state: PaymentState
  ref: string | null
  amountCents: number
  capturedCents: number
  refundedCents: number
}

/** The gateway did not answer or answered 5xx: the outcome is unknown, retry with the same key. */
export class GatewayUnavailableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GatewayUnavailableError'
  }
}

/** The gateway refused the request itself (a capture of a cancelled authorization, a refund too large). */
export class GatewayRejectedError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
    this.name = 'GatewayRejectedError'
  }
}

/** A refund asked of a gateway: the payment, the amount, and the refund's own stable key. */
export type RefundCall = { ref: string; amountCents: number; idempotencyKey: string }
