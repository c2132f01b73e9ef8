import { withTransaction } from '../../db/transaction.ts'
import { PermanentFailure, defineStep, stepResult } from '../../saga/saga.ts'
import type { CheckoutContext, CheckoutInput } from '../deps.ts'

export const confirmOrderStepId = 'confirm-order-step'

/**
 * The pivot: in one transaction, count the unit against the sale's stock and the shopper's limit
 * (both guarded in SQL, so Postgres refuses to oversell even if Redis were wrong) and confirm the order.
 * After this commits the saga only moves forward.
 */
export const confirmOrderStep = defineStep(confirmOrderStepId, async (input: CheckoutInput, { deps }: CheckoutContext) => {
  await withTransaction(deps.db, async (client) => {
    const { rows } = await client.query<{ status: string }>('SELECT status FROM orders WHERE id = $1 FOR UPDATE', [input.orderId])
    if (rows[0]?.status === 'CONFIRMED') return
    if (rows[0]?.status !== 'PENDING') throw new Error(`order ${input.orderId} is ${rows[0]?.status ?? 'missing'}, expected PENDING`)
    const sale = await client.query('UPDATE sales SET sold = sold + 1 WHERE id = $1 AND sold < stock RETURNING per_shopper_limit', [input.saleId])
    if (sale.rowCount === 0) throw new PermanentFailure('sold_out')
    const limit = sale.rows[0].per_shopper_limit as number
    const shopper = await client.query(
      `INSERT INTO shopper_purchases (sale_id, shopper, units) VALUES ($1, $2, 1)
       ON CONFLICT (sale_id, shopper) DO UPDATE SET units = shopper_purchases.units + 1
       WHERE shopper_purchases.units < $3`,
      [input.saleId, input.shopper, limit],
    )
    if (shopper.rowCount === 0) throw new PermanentFailure('limit_reached')
    await client.query(`UPDATE orders SET status = 'CONFIRMED', confirmed_at = now(), updated_at = now() WHERE id = $1`, [input.orderId])
  })
  return stepResult(null)
})
