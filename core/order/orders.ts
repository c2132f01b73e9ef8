import type pg from 'pg'
import type { Order, OrderStatus } from '../../contracts/index.ts'

interface OrderRow {
  id: string
  sale_id: string
  shopper: string
  status: 'PENDING' | 'CONFIRMED' | 'FAILED'
  amount_cents: string
  currency: string
  failure_reason: string | null
  created_at: Date
  updated_at: Date
}

export interface PendingOrder {
  orderId: string
  saleId: string
  shopper: string
  amountCents: number
  currency: string
  redeemedAt: number
}

/** Reads orders for shoppers. Orders are written only by the checkout saga. */
export class Orders {
  constructor(
    private readonly db: pg.Pool,
    /** An order whose saga has not written it yet is still known by its checkout job. */
    private readonly pending: (orderId: string) => Promise<PendingOrder | null>,
  ) {}

  /** The order, if it belongs to `shopper`; otherwise null (never tell one shopper about another's order). */
  async forShopper(orderId: string, shopper: string): Promise<Order | null> {
    const { rows } = await this.db.query<OrderRow>('SELECT * FROM orders WHERE id = $1', [orderId])
    const row = rows[0]
    if (row) {
      if (row.shopper !== shopper) return null
      return {
        orderId: row.id,
        saleId: row.sale_id,
        status: row.status.toLowerCase() as OrderStatus,
        amountCents: Number(row.amount_cents),
        currency: row.currency,
        failureReason: row.failure_reason,
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
      }
    }
    const job = await this.pending(orderId)
    if (!job || job.shopper !== shopper) return null
    const at = new Date(job.redeemedAt).toISOString()
    return { orderId, saleId: job.saleId, status: 'pending', amountCents: job.amountCents, currency: job.currency, failureReason: null, createdAt: at, updatedAt: at }
  }
}
