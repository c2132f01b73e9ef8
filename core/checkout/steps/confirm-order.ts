import { withTransaction } from '../../db/transaction.ts'
import { PermanentFailure, defineStep, fulfilled, rejected, stepResult, type BatchItem } from '../../saga/saga.ts'
import { positionsBySale, type CheckoutContext, type CheckoutDeps, type CheckoutInput } from '../deps.ts'

export const confirmOrderStepId = 'confirm-order-step'

/**
 * The pivot: in one transaction, count the unit against the sale's stock and the shopper's limit
 * (both guarded in SQL, so Postgres refuses to oversell even if Redis were wrong) and confirm the order.
 * After this commits the saga only moves forward.
 */
async function confirmOne(input: CheckoutInput, deps: CheckoutDeps): Promise<void> {
  await withTransaction(deps.db, async (client) => {
    const { rows } = await client.query<{ status: string }>('SELECT status FROM orders WHERE id = $1 FOR UPDATE', [
      input.orderId,
    ])
    if (rows[0]?.status === 'CONFIRMED') return
    if (rows[0]?.status !== 'PENDING')
      throw new Error(`order ${input.orderId} is ${rows[0]?.status ?? 'missing'}, expected PENDING`)
    const sale = await client.query(
      'UPDATE sales SET sold = sold + 1 WHERE id = $1 AND sold < stock RETURNING per_shopper_limit',
      [input.saleId],
    )
    if (sale.rowCount === 0) throw new PermanentFailure('sold_out')
    const limit = sale.rows[0].per_shopper_limit as number
    const shopper = await client.query(
      `INSERT INTO shopper_purchases (sale_id, shopper, units) VALUES ($1, $2, 1)
       ON CONFLICT (sale_id, shopper) DO UPDATE SET units = shopper_purchases.units + 1
       WHERE shopper_purchases.units < $3`,
      [input.saleId, input.shopper, limit],
    )
    if (shopper.rowCount === 0) throw new PermanentFailure('limit_reached')
    await client.query(
      `UPDATE orders SET status = 'CONFIRMED', confirmed_at = now(), updated_at = now() WHERE id = $1`,
      [input.orderId],
    )
  })
}

/** The guards would refuse part of a batch: undo the whole batch and decide order by order. */
class BatchRefused extends Error {}

/**
 * The pivot for the orders of one sale at once: the same guards as `confirmOne`, for the batch as a whole
 * (sold + n <= stock, every shopper's units + their orders here <= limit). If any guard would refuse, the
 * batch is rolled back and each order is confirmed alone, so exactly the orders `confirmOne` would refuse
 * are refused. Orders are locked in id order, so batches that share an order cannot deadlock.
 */
async function confirmSale(
  saleId: string,
  inputs: CheckoutInput[],
  deps: CheckoutDeps,
): Promise<PromiseSettledResult<void>[]> {
  try {
    return await withTransaction(deps.db, async (client) => {
      const ids = inputs.map((input) => input.orderId).sort()
      const { rows } = await client.query<{ id: string; status: string }>(
        'SELECT id, status FROM orders WHERE id = ANY($1) ORDER BY id FOR UPDATE',
        [ids],
      )
      const status = new Map(rows.map((row) => [row.id, row.status]))
      const pending = inputs.filter((input) => status.get(input.orderId) === 'PENDING')
      if (pending.length) {
        const sale = await client.query(
          'UPDATE sales SET sold = sold + $2 WHERE id = $1 AND sold + $2 <= stock RETURNING per_shopper_limit',
          [saleId, pending.length],
        )
        if (sale.rowCount === 0) throw new BatchRefused()
        const shoppers = pending.map((input) => input.shopper)
        const counted = await client.query(
          `INSERT INTO shopper_purchases (sale_id, shopper, units)
           SELECT $1, shopper, count(*) FROM unnest($2::text[]) AS t(shopper) GROUP BY shopper HAVING count(*) <= $3
           ON CONFLICT (sale_id, shopper) DO UPDATE SET units = shopper_purchases.units + excluded.units
           WHERE shopper_purchases.units + excluded.units <= $3`,
          [saleId, shoppers, sale.rows[0].per_shopper_limit],
        )
        if (counted.rowCount !== new Set(shoppers).size) throw new BatchRefused()
        await client.query(
          `UPDATE orders SET status = 'CONFIRMED', confirmed_at = now(), updated_at = now() WHERE id = ANY($1)`,
          [pending.map((input) => input.orderId)],
        )
      }
      return inputs.map((input) => {
        const now = status.get(input.orderId)
        return now === 'PENDING' || now === 'CONFIRMED'
          ? fulfilled(undefined)
          : rejected(new Error(`order ${input.orderId} is ${now ?? 'missing'}, expected PENDING`))
      })
    })
  } catch (error) {
    if (!(error instanceof BatchRefused)) throw error
    const settled: PromiseSettledResult<void>[] = []
    for (const input of inputs) settled.push(await confirmOne(input, deps).then(fulfilled, rejected))
    return settled
  }
}

export const confirmOrderStep = defineStep(
  confirmOrderStepId,
  async (input: CheckoutInput, { deps }: CheckoutContext) => {
    await confirmOne(input, deps)
    return stepResult(null)
  },
  undefined,
  async (items: BatchItem<CheckoutInput>[], deps: CheckoutDeps) => {
    const bySale = positionsBySale(items.map((item) => item.input))
    const settled: PromiseSettledResult<ReturnType<typeof stepResult<null>>>[] = new Array(items.length)
    await Promise.all(
      [...bySale].map(async ([saleId, at]) => {
        const results = await confirmSale(
          saleId,
          at.map((i) => items[i]!.input),
          deps,
        ).catch((error: unknown) => at.map(() => rejected(error)))
        results.forEach(
          (result, k) => (settled[at[k]!] = result.status === 'fulfilled' ? fulfilled(stepResult(null)) : result),
        )
      }),
    )
    return settled
  },
)
