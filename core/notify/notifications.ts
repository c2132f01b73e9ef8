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
  /** The same for many at once (a settlement batch); without it, `send` each in turn. */
  sendMany?(notifications: Notification[]): Promise<void>
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

  async send(notification: Notification): Promise<void> {
    await this.sendMany([notification])
  }

  async sendMany(notifications: Notification[]): Promise<void> {
    await this.db.query(
      `INSERT INTO outbox (order_id, type, ref, channel, recipient, payload)
       SELECT n.event->>'orderId', n.event->>'type', coalesce(n.event->>'ref', ''), $2, n.recipient, n.event
       FROM jsonb_to_recordset($1::jsonb) AS n(event jsonb, recipient text)
       ON CONFLICT (order_id, type, ref, channel) DO NOTHING`,
      [JSON.stringify(notifications), this.channel],
    )
  }
}

/** Runs the notifications of one job (one, or a settlement batch's) through every provider. */
export async function deliverNotifications(
  notifications: NotificationJob[],
  providers: NotificationProvider[],
): Promise<void> {
  for (const provider of providers) {
    if (provider.sendMany) await provider.sendMany(notifications)
    else for (const notification of notifications) await provider.send(notification)
  }
}
