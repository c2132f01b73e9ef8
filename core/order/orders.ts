import type pg from 'pg'
import type { Order, OrderStatus } from '../../contracts/index.ts'

interface OrderRow {
  id: string
  sale_id: string | null
  kind: 'drop' | 'cart'
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

export interface SaleOrderRow {
  orderId: string
  tid: string
  gen: number
  status: OrderStatus
  createdAt: string
}

/** Reads orders for shoppers. Orders are written only by the checkout saga. */
export class Orders {
  constructor(
    private readonly db: pg.Pool,
    /** An order whose saga has not written it yet is still known by its checkout job. */
    private readonly pending: (orderId: string) => Promise<PendingOrder | null>,
  ) {}

  /** A page of a sale's orders for operators, by order id, after `after` (the last order id of the page before). */
  async ofSale(saleId: string, { status, after, limit }: { status?: OrderStatus; after?: string; limit: number }) {
    const { rows } = await this.db.query<{
      id: string
      token_id: string
      token_gen: number
      status: string
      created_at: Date
    }>(
      `SELECT id, token_id, token_gen, status, created_at FROM orders
       WHERE sale_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR id > $3)
       ORDER BY id LIMIT $4`,
      [saleId, status?.toUpperCase() ?? null, after ?? null, limit],
    )
    const orders: SaleOrderRow[] = rows.map((r) => ({
      orderId: r.id,
      tid: r.token_id,
      gen: r.token_gen,
      status: r.status.toLowerCase() as OrderStatus,
      createdAt: r.created_at.toISOString(),
    }))
    const last = rows.at(-1)
    return { orders, next: rows.length === limit && last ? last.id : null }
  }

  /**
   * Orders among `orderIds` whose saga has reached its end: FAILED and compensated, or CONFIRMED and completed
   * (the hold sweep settles their holds at once instead of waiting for the holds to expire).
   */
  async settled(orderIds: string[]): Promise<Array<{ id: string; status: 'FAILED' | 'CONFIRMED' }>> {
    const { rows } = await this.db.query<{ id: string; status: 'FAILED' | 'CONFIRMED' }>(
      `SELECT o.id, o.status FROM orders o JOIN sagas s ON s.id = o.id
       WHERE o.id = ANY($1) AND ((o.status = 'FAILED' AND s.status = 'COMPENSATED')
                              OR (o.status = 'CONFIRMED' AND s.status = 'COMPLETED'))`,
      [orderIds],
    )
    return rows
  }

  private async lines(orderId: string): Promise<NonNullable<Order['lines']>> {
    type LineRow = { sku: string; name: string; quantity: number; unit_price_cents: string; currency: string }
    const { rows } = await this.db.query<LineRow>(
      'SELECT sku, name, quantity, unit_price_cents, currency FROM order_lines WHERE order_id = $1 ORDER BY sku',
      [orderId],
    )
    return rows.map((r) => ({
      sku: r.sku,
      name: r.name,
      quantity: r.quantity,
      unitPriceCents: Number(r.unit_price_cents),
      currency: r.currency,
    }))
  }

  /** The order, if it belongs to `shopper`; otherwise null (never tell one shopper about another's order). */
  async forShopper(orderId: string, shopper: string): Promise<Order | null> {
    const { rows } = await this.db.query<OrderRow>('SELECT * FROM orders WHERE id = $1', [orderId])
    const row = rows[0]
    if (row) {
      if (row.shopper !== shopper) return null
      const lines = row.kind === 'cart' ? await this.lines(orderId) : undefined
      return {
        orderId: row.id,
        saleId: row.sale_id,
        status: row.status.toLowerCase() as OrderStatus,
        amountCents: Number(row.amount_cents),
        currency: row.currency,
        failureReason: row.failure_reason,
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
        ...(lines ? { lines } : {}),
      }
    }
    const job = await this.pending(orderId)
    if (!job || job.shopper !== shopper) return null
    const at = new Date(job.redeemedAt).toISOString()
    return {
      orderId,
      saleId: job.saleId,
      status: 'pending',
      amountCents: job.amountCents,
      currency: job.currency,
      failureReason: null,
      createdAt: at,
      updatedAt: at,
    }
  }
}
