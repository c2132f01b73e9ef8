import type pg from 'pg'
import type { NotificationJob, OrderEvent } from '../../contracts/index.ts'

export type Channel = 'email' | 'sms' | 'push'

export interface Notification {
  event: OrderEvent
  recipient: string
}

/**
 * Something that tells a shopper about their order: email, SMS or push. `send` must be idempotent per
 * (order, type, ref): the queue delivers at least once.
 */
export interface NotificationProvider {
  readonly channel: Channel
  send(notification: Notification): Promise<void>
}

/**
 * The default provider: writes the notification to the `outbox` table, where a mailer (or anything
 * else) picks it up. The unique (order, type, ref, channel) makes a re-run job a no-op.
 */
export class OutboxProvider implements NotificationProvider {
  constructor(
    private readonly db: pg.Pool,
    readonly channel: Channel = 'email',
  ) {}

  async send({ event, recipient }: Notification): Promise<void> {
    await this.db.query(
      `INSERT INTO outbox (order_id, type, ref, channel, recipient, payload) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (order_id, type, ref, channel) DO NOTHING`,
      [event.orderId, event.type, event.ref ?? '', this.channel, recipient, JSON.stringify(event)],
    )
  }
}

/** Runs one notification job through every provider. */
export async function deliverNotification(job: NotificationJob, providers: NotificationProvider[]): Promise<void> {
  for (const provider of providers) await provider.send(job)
}
