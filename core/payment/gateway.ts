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
}

export interface AuthorizeRequest {
  orderId: string
  amountCents: number
  currency: string
  paymentMethod: string
  idempotencyKey: string
}

export type AuthorizeResult = { status: 'authorized'; ref: string } | { status: 'declined'; reason: string }

/** The gateway did not answer or answered 5xx: the outcome is unknown, retry with the same key. */
export class GatewayUnavailableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GatewayUnavailableError'
  }
}
