import Stripe from 'stripe'
import {
  GatewayRejectedError,
  GatewayUnavailableError,
  type AuthorizeRequest,
  type AuthorizeResult,
  type PaymentGateway,
  type PaymentSnapshot,
  type PaymentState,
  type RefundCall,
} from './gateway.ts'

export interface StripeGatewayOptions {
  secretKey: string
  /** Another API origin (an offline fixture server in tests), e.g. http://127.0.0.1:12111. */
  apiBase?: string
  /** Per-request timeout; a timeout is an unknown outcome, retried with the same key. */
  timeoutMs?: number
  /** Retries the SDK itself makes (same Idempotency-Key) before the saga's own backoff takes over. */
  maxNetworkRetries?: number
}

/** Metadata key that ties a PaymentIntent to its Floodgate order (searchable, shown in the dashboard). */
export const ORDER_METADATA_KEY = 'floodgate_order'

const STATES: Record<string, PaymentState> = {
  requires_capture: 'authorized',
  succeeded: 'captured',
  canceled: 'voided',
  processing: 'processing',
  requires_action: 'declined',
  requires_confirmation: 'processing',
  requires_payment_method: 'declined',
}
const stateOf = (status: string): PaymentState => STATES[status] ?? 'processing'
/** When several intents exist for one order (should not happen), the one that matters most wins. */
const WEIGHT: Record<PaymentState, number> = {
  captured: 5,
  authorized: 4,
  processing: 3,
  voided: 2,
  declined: 1,
  none: 0,
}

/**
 * Stripe PaymentIntents with manual capture: authorize (create + confirm) at checkout, capture only after
 * the order is committed, cancel when the saga compensates, refund afterwards. Every mutating call carries
 * an Idempotency-Key derived from the order id, so a retry after a timeout can never charge twice.
 */
export class StripeGateway implements PaymentGateway {
  readonly name = 'stripe'
  readonly stripe: Stripe

  constructor({ secretKey, apiBase, timeoutMs = 10_000, maxNetworkRetries = 1 }: StripeGatewayOptions) {
    const base = apiBase ? new URL(apiBase) : undefined
    this.stripe = new Stripe(secretKey, {
      timeout: timeoutMs,
      maxNetworkRetries,
      telemetry: false,
      ...(base
        ? {
            host: base.hostname,
            port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
            protocol: base.protocol.replace(':', '') as 'http' | 'https',
          }
        : {}),
    })
  }

  async authorize(request: AuthorizeRequest): Promise<AuthorizeResult> {
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          amount: request.amountCents,
          currency: request.currency.toLowerCase(),
          capture_method: 'manual',
          confirm: true,
          payment_method: request.paymentMethod,
          // No redirect-based methods: the saga cannot send the shopper anywhere.
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: { [ORDER_METADATA_KEY]: request.orderId },
        },
        { idempotencyKey: request.idempotencyKey },
      )
      if (intent.status === 'requires_capture') return { status: 'authorized', ref: intent.id }
      // A flash-sale checkout cannot wait for 3-D Secure inside a saga: the shopper pays again with a
      // method that authorizes at once. "processing" is not an answer yet: ask again (same key).
      if (intent.status === 'processing' || intent.status === 'requires_confirmation')
        throw new GatewayUnavailableError(`payment intent ${intent.id} is ${intent.status}`)
      return { status: 'declined', reason: intent.status }
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError)
        return { status: 'declined', reason: error.decline_code ?? error.code ?? 'card_declined' }
      throw this.translate(error, 'authorize')
    }
  }

  async capture({
    ref,
    amountCents,
    idempotencyKey,
  }: {
    ref: string
    amountCents: number
    idempotencyKey: string
  }): Promise<void> {
    try {
      await this.stripe.paymentIntents.capture(ref, { amount_to_capture: amountCents }, { idempotencyKey })
    } catch (error) {
      // Captured already (say by a retry whose key Stripe pruned): the goal is reached.
      if (await this.alreadyIn(error, ref, 'captured')) return
      throw this.translate(error, 'capture')
    }
  }

  async void({ ref, idempotencyKey }: { ref: string; idempotencyKey: string }): Promise<void> {
    try {
      await this.stripe.paymentIntents.cancel(ref, { cancellation_reason: 'abandoned' }, { idempotencyKey })
    } catch (error) {
      if (await this.alreadyIn(error, ref, 'voided')) return
      throw this.translate(error, 'void')
    }
  }

  async refund({ ref, amountCents, idempotencyKey }: RefundCall): Promise<{ refundRef: string }> {
    try {
      const refund = await this.stripe.refunds.create(
        { payment_intent: ref, amount: amountCents, reason: 'requested_by_customer' },
        { idempotencyKey },
      )
      return { refundRef: refund.id }
    } catch (error) {
      throw this.translate(error, 'refund')
    }
  }

  async retrieve({ orderId, ref }: { orderId: string; ref?: string | null }): Promise<PaymentSnapshot> {
    try {
      let intent: Stripe.PaymentIntent | undefined
      if (ref) {
        intent = await this.stripe.paymentIntents.retrieve(ref, { expand: ['latest_charge'] })
      } else {
        // Search is eventually consistent (about a minute): "none" from here means "not yet seen",
        // which is why callers resume the saga (same key) instead of concluding anything from it.
        const found = await this.stripe.paymentIntents.search({
          query: `metadata['${ORDER_METADATA_KEY}']:'${orderId}'`,
        })
        const best = found.data.sort((a, b) => WEIGHT[stateOf(b.status)] - WEIGHT[stateOf(a.status)])[0]
        if (best) intent = await this.stripe.paymentIntents.retrieve(best.id, { expand: ['latest_charge'] })
      }
      if (!intent) return { state: 'none', ref: null, amountCents: 0, capturedCents: 0, refundedCents: 0 }
      const charge = typeof intent.latest_charge === 'object' ? intent.latest_charge : null
      return {
        state: stateOf(intent.status),
        ref: intent.id,
        amountCents: intent.amount,
        capturedCents: intent.amount_received,
        refundedCents: charge?.amount_refunded ?? 0,
      }
    } catch (error) {
      throw this.translate(error, 'retrieve')
    }
  }

  private async alreadyIn(error: unknown, ref: string, state: PaymentState): Promise<boolean> {
    if (!(error instanceof Stripe.errors.StripeInvalidRequestError) || error.code !== 'payment_intent_unexpected_state')
      return false
    const intent = await this.stripe.paymentIntents.retrieve(ref).catch(() => null)
    return intent !== null && stateOf(intent.status) === state
  }

  /** Timeouts, connection errors, 409 (same key in flight), 429 and 5xx: unknown outcome, retry. Others are final. */
  private translate(error: unknown, action: string): Error {
    if (error instanceof GatewayUnavailableError) return error
    if (error instanceof Stripe.errors.StripeError) {
      const status = error.statusCode ?? 0
      if (
        error instanceof Stripe.errors.StripeConnectionError ||
        error instanceof Stripe.errors.StripeAPIError ||
        status === 409 ||
        status === 429 ||
        status >= 500 ||
        status === 0
      ) {
        return new GatewayUnavailableError(`stripe ${action}: ${error.type} ${error.message}`)
      }
      return new GatewayRejectedError(`stripe ${action}: ${error.message}`, error.code ?? error.type)
    }
    return error instanceof Error ? error : new Error(String(error))
  }
}
