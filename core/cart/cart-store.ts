/**
 * Every write of the cart domain: carts, cart_lines, its orders (`orders` rows of kind 'cart', order_lines) and
 * cart_reservations. Stock moves are the catalog's (`Catalog.withStockTaken` / `withStockReturned`); the writes
 * here that go with them take the caller's transaction client.
 */
import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { withTransaction } from '../db/transaction.ts'
import { ApiError } from '../errors/api-error.ts'

type Db = pg.Pool | pg.PoolClient

export interface CartRow {
  id: string
  account_id: string | null
  merged_into: string | null
}

export interface LineRow {
  sku: string
  quantity: number
}

export interface NewCartOrder {
  orderId: string
  cartId: string
  shopper: string
  amountCents: number
  currency: string
  paymentMethod: string
  idempotencyKey: string
  lines: Array<{ sku: string; name: string; quantity: number; unitPriceCents: number }>
  expiresAt: Date
}

export const newCartId = () => `cart_${randomBytes(16).toString('hex')}`

export class CartStore {
  constructor(readonly db: pg.Pool) {}

  async createGuest(): Promise<CartRow> {
    const { rows } = await this.db.query<CartRow>(
      'INSERT INTO carts (id) VALUES ($1) RETURNING id, account_id, merged_into',
      [newCartId()],
    )
    return rows[0]!
  }

  /** The account's cart, made on first use. */
  async ofAccount(accountId: string, db: Db = this.db): Promise<CartRow> {
    const { rows } = await db.query<CartRow>(
      `INSERT INTO carts (id, account_id) VALUES ($1, $2)
       ON CONFLICT (account_id) DO UPDATE SET updated_at = carts.updated_at RETURNING id, account_id, merged_into`,
      [newCartId(), accountId],
    )
    return rows[0]!
  }

  async cart(id: string): Promise<CartRow | null> {
    const { rows } = await this.db.query<CartRow>('SELECT id, account_id, merged_into FROM carts WHERE id = $1', [id])
    return rows[0] ?? null
  }

  async lines(cartId: string, db: Db = this.db): Promise<LineRow[]> {
    const { rows } = await db.query<LineRow>('SELECT sku, quantity FROM cart_lines WHERE cart_id = $1 ORDER BY sku', [
      cartId,
    ])
    return rows
  }

  /** Sets a line's quantity; refuses a new line past `maxLines`. */
  async setLine(cartId: string, sku: string, quantity: number, maxLines: number): Promise<void> {
    await withTransaction(this.db, async (client) => {
      await client.query('SELECT 1 FROM carts WHERE id = $1 FOR UPDATE', [cartId])
      const { rows } = await client.query<{ n: number; has: boolean }>(
        'SELECT count(*)::int AS n, bool_or(sku = $2) AS has FROM cart_lines WHERE cart_id = $1',
        [cartId, sku],
      )
      if (!rows[0]!.has && rows[0]!.n >= maxLines)
        throw new ApiError('invalid_body', `a cart holds at most ${maxLines} lines`, 'sku')
      await client.query(
        `INSERT INTO cart_lines (cart_id, sku, quantity) VALUES ($1, $2, $3)
         ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = EXCLUDED.quantity`,
        [cartId, sku, quantity],
      )
      await client.query('UPDATE carts SET updated_at = now() WHERE id = $1', [cartId])
    })
  }

  async removeLine(cartId: string, sku: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM cart_lines WHERE cart_id = $1 AND sku = $2', [cartId, sku])
    return (rowCount ?? 0) > 0
  }

  /**
   * Moves a guest cart's lines into the account's cart, quantities summed and capped at `cap`, in one
   * transaction with the guest cart locked; the guest cart is then marked merged, so a retry changes nothing.
   * Returns the SKUs whose sum was capped.
   */
  async merge(guestId: string, accountId: string, cap: number): Promise<{ capped: string[]; cartId: string }> {
    return withTransaction(this.db, async (client) => {
      const target = await this.ofAccount(accountId, client)
      const { rows } = await client.query<CartRow>(
        'SELECT id, account_id, merged_into FROM carts WHERE id = $1 FOR UPDATE',
        [guestId],
      )
      const guest = rows[0]
      if (!guest) throw new ApiError('cart_not_found', `no cart ${guestId}`, 'cartId')
      if (guest.id === target.id || guest.merged_into === target.id) return { capped: [], cartId: target.id }
      if (guest.account_id !== null || guest.merged_into !== null) {
        throw new ApiError('cart_not_found', `cart ${guestId} is not a guest cart`, 'cartId')
      }
      await client.query('SELECT 1 FROM carts WHERE id = $1 FOR UPDATE', [target.id])
      const mine = new Map((await this.lines(target.id, client)).map((l) => [l.sku, l.quantity]))
      const capped: string[] = []
      for (const line of await this.lines(guest.id, client)) {
        const sum = (mine.get(line.sku) ?? 0) + line.quantity
        if (sum > cap) capped.push(line.sku)
        await client.query(
          `INSERT INTO cart_lines (cart_id, sku, quantity) VALUES ($1, $2, $3)
           ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = EXCLUDED.quantity`,
          [target.id, line.sku, Math.min(sum, cap)],
        )
      }
      await client.query('DELETE FROM cart_lines WHERE cart_id = $1', [guest.id])
      await client.query('UPDATE carts SET merged_into = $2, updated_at = now() WHERE id = $1', [guest.id, target.id])
      await client.query('UPDATE carts SET updated_at = now() WHERE id = $1', [target.id])
      return { capped, cartId: target.id }
    })
  }

  /**
   * In the checkout's transaction (stock already taken): the PENDING order and its lines, the reservation,
   * and the bought lines out of the cart.
   */
  async placeOrder(client: pg.PoolClient, order: NewCartOrder): Promise<void> {
    await client.query(
      `INSERT INTO orders (id, kind, shopper, status, amount_cents, currency, payment_method, idempotency_key)
       VALUES ($1, 'cart', $2, 'PENDING', $3, $4, $5, $6)`,
      [order.orderId, order.shopper, order.amountCents, order.currency, order.paymentMethod, order.idempotencyKey],
    )
    await client.query(
      `INSERT INTO order_lines (order_id, sku, name, quantity, unit_price_cents, currency)
       SELECT $1, l.sku, l.name, l.quantity, l."unitPriceCents", $3
         FROM jsonb_to_recordset($2::jsonb) AS l(sku text, name text, quantity integer, "unitPriceCents" bigint)`,
      [order.orderId, JSON.stringify(order.lines), order.currency],
    )
    await client.query('INSERT INTO cart_reservations (order_id, cart_id, lines, expires_at) VALUES ($1, $2, $3, $4)', [
      order.orderId,
      order.cartId,
      JSON.stringify(order.lines.map(({ sku, quantity }) => ({ sku, quantity }))),
      order.expiresAt,
    ])
    await client.query('DELETE FROM cart_lines WHERE cart_id = $1 AND sku = ANY($2)', [
      order.cartId,
      order.lines.map((l) => l.sku),
    ])
  }

  /** An order of this shopper placed under `orderId` already (a retried checkout). */
  async existingOrder(orderId: string): Promise<{ shopper: string; amount_cents: string } | null> {
    const { rows } = await this.db.query<{ shopper: string; amount_cents: string }>(
      `SELECT shopper, amount_cents FROM orders WHERE id = $1 AND kind = 'cart'`,
      [orderId],
    )
    return rows[0] ?? null
  }

  /**
   * In a stock-returning transaction: a held reservation released and its order FAILED (`failure`). Returns the
   * lines to put back; none when it was not held any more (sold, or released already: idempotent).
   */
  async release(client: pg.PoolClient, orderId: string, failure: string): Promise<LineRow[]> {
    const { rows } = await client.query<{ lines: LineRow[] }>(
      `UPDATE cart_reservations SET status = 'released', updated_at = now()
        WHERE order_id = $1 AND status = 'held' RETURNING lines`,
      [orderId],
    )
    await client.query(
      `UPDATE orders SET status = 'FAILED', failure_reason = $2, updated_at = now()
        WHERE id = $1 AND status = 'PENDING'`,
      [orderId, failure],
    )
    return rows[0]?.lines ?? []
  }

  /**
   * The pivot: the reservation becomes sold and the order CONFIRMED, together, only while the reservation is
   * still held and unexpired. False when it was released or lapsed (the checkout then fails and is undone).
   */
  async confirm(orderId: string): Promise<boolean> {
    return withTransaction(this.db, async (client) => {
      const { rows } = await client.query<{ status: string; live: boolean }>(
        'SELECT status, expires_at > now() AS live FROM cart_reservations WHERE order_id = $1 FOR UPDATE',
        [orderId],
      )
      const reservation = rows[0]
      if (!reservation) return false
      if (reservation.status === 'sold') return true
      if (reservation.status !== 'held' || !reservation.live) return false
      await client.query(`UPDATE cart_reservations SET status = 'sold', updated_at = now() WHERE order_id = $1`, [
        orderId,
      ])
      await client.query(
        `UPDATE orders SET status = 'CONFIRMED', confirmed_at = now(), updated_at = now()
          WHERE id = $1 AND status = 'PENDING'`,
        [orderId],
      )
      return true
    })
  }

  /**
   * Sagas of `kind` not finished and not moved for `staleMs`: their process stopped, or they were suspended
   * waiting for the payment gateway (running one again asks the gateway again, with the same keys).
   */
  async staleSagas(kind: string, staleMs: number, limit: number): Promise<Array<{ id: string; input: unknown }>> {
    const { rows } = await this.db.query<{ id: string; input: unknown }>(
      `SELECT id, input FROM sagas WHERE kind = $1 AND status IN ('RUNNING', 'COMPENSATING', 'SUSPENDED')
          AND updated_at < now() - $2 * interval '1 millisecond' ORDER BY updated_at LIMIT $3`,
      [kind, staleMs, limit],
    )
    return rows
  }

  /** Held reservations past their expiry, oldest first. */
  async expired(limit: number): Promise<string[]> {
    const { rows } = await this.db.query<{ order_id: string }>(
      `SELECT order_id FROM cart_reservations
        WHERE status = 'held' AND expires_at < now() ORDER BY expires_at LIMIT $1`,
      [limit],
    )
    return rows.map((r) => r.order_id)
  }
}
