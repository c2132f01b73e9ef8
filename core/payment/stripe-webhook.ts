import type pg from 'pg'
import Stripe from 'stripe'
import { ApiError } from '../errors/api-error.ts'
import type { Logger } from '../logger.ts'
import type { PaymentGateway } from './gateway.ts'
import type { Payments } from './payments.ts'
import { ORDER_METADATA_KEY } from './stripe-gateway.ts'
import { withTransaction } from '../db/transaction.ts'

/** Events that say something about a payment; every other type is acknowledged and recorded as ignored. */
const PAYMENT_EVENTS = new Set([
  'payment_intent.amount_capturable_updated',
  'payment_intent.succeeded',
  'payment_intent.canceled',
  'payment_intent.payment_failed',
  'charge.refunded',
  'charge.captured',
])

export type WebhookOutcome = 'applied' | 'duplicate' | 'ignored' | 'unknown_order'

export interface StripeWebhookOptions {
  secret: string
  db: pg.Pool
  gateway: PaymentGateway
  payments: Payments
  logger: Logger
  /** After the event's effect is committed: look at the order as a whole (void or refund an orphan, resume a saga, flag). */
  review: (orderId: string) => Promise<unknown>
  /** Signature tolerance in seconds (Stripe's default, 300). */
  toleranceSeconds?: number
}

/**
 * `POST /webhooks/stripe`. The signature is checked on the raw body. The event itself is only a hint:
 * the PaymentIntent is read again from Stripe and that answer is what gets applied, so duplicates, late
 * and out-of-order events all converge on the same state. The event id is recorded in
 * `processed_events` in the same transaction as the payment row's update: a redelivery is a no-op.
 */
export class StripeWebhook {
  constructor(private readonly options: StripeWebhookOptions) {}

  async handle(rawBody: string, signature: string | undefined): Promise<{ outcome: WebhookOutcome; eventId: string }> {
    const { db, gateway, payments, logger } = this.options
    let event: Stripe.Event
    try {
      event = Stripe.webhooks.constructEvent(
        rawBody,
        signature ?? '',
        this.options.secret,
        this.options.toleranceSeconds ?? 300,
      )
    } catch (error) {
      throw new ApiError(
        'webhook_signature_invalid',
        `Stripe-Signature refused: ${(error as Error).message}`,
        'stripe-signature',
      )
    }
    const seen = await db.query('SELECT 1 FROM processed_events WHERE id = $1', [event.id])
    if (seen.rowCount) return { outcome: 'duplicate', eventId: event.id }

    let orderId: string | null = null
    let ref: string | null = null
    if (PAYMENT_EVENTS.has(event.type)) {
      const object = event.data.object as unknown as {
        object: string
        id: string
        metadata?: Record<string, string>
        payment_intent?: string | { id: string } | null
      }
      if (object.object === 'payment_intent') {
        ref = object.id
        orderId = object.metadata?.[ORDER_METADATA_KEY] ?? null
      } else if (object.object === 'charge' && object.payment_intent) {
        ref = typeof object.payment_intent === 'string' ? object.payment_intent : object.payment_intent.id
      }
      if (!orderId && ref) {
        const row = await db.query<{ order_id: string }>('SELECT order_id FROM payments WHERE gateway_ref = $1', [ref])
        orderId = row.rows[0]?.order_id ?? null
      }
    }
    // Never trust the event's copy: read the PaymentIntent now (GatewayUnavailable -> 503, Stripe retries).
    const snapshot = orderId ? await gateway.retrieve({ orderId, ref }) : null

    const outcome: WebhookOutcome = !PAYMENT_EVENTS.has(event.type) ? 'ignored' : orderId ? 'applied' : 'unknown_order'
    // The dedup record and the payment update commit together, or not at all.
    const duplicate = await withTransaction(db, async (client) => {
      const inserted = await client.query(
        `INSERT INTO processed_events (id, source, type, order_id, outcome) VALUES ($1, 'stripe', $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
        [event.id, event.type, orderId, outcome],
      )
      if (inserted.rowCount === 0) return true
      if (orderId && snapshot) await payments.sync(orderId, snapshot, client)
      return false
    })
    if (duplicate) return { outcome: 'duplicate', eventId: event.id }
    if (orderId) {
      await this.options
        .review(orderId)
        .catch((err) =>
          logger.warn({ err, orderId, eventId: event.id }, 'review after webhook failed; reconciliation will retry'),
        )
    }
    logger.info({ eventId: event.id, type: event.type, orderId, outcome }, 'stripe webhook')
    return { outcome, eventId: event.id }
  }
}
