import { defineStep, fulfilled, manyOrEach, stepResult } from '../../saga/saga.ts'
import type { CheckoutDeps, CheckoutInput } from '../deps.ts'

export const createOrderStepId = 'create-order-step'

/** Records the order as PENDING. Undo: the order becomes FAILED with the saga's reason. */
const createOrder = async (input: CheckoutInput, deps: CheckoutDeps) => {
  await deps.db.query(
    `INSERT INTO orders (id, sale_id, token_id, token_gen, shopper, status, amount_cents, currency, payment_method, idempotency_key, created_at)
     VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, $8, $9, to_timestamp($10 / 1000.0))
     ON CONFLICT DO NOTHING`,
    [
      input.orderId,
      input.saleId,
      input.tid,
      input.gen,
      input.shopper,
      input.amountCents,
      input.currency,
      input.paymentMethod,
      input.idempotencyKey,
      input.redeemedAt,
    ],
  )
  return stepResult(null, { orderId: input.orderId })
}

export const createOrderStep = defineStep(
  createOrderStepId,
  async (input: CheckoutInput, { deps }) => createOrder(input, deps),
  async (undo: { orderId: string } | undefined, deps: CheckoutDeps, failure: string) => {
    if (!undo) return
    await deps.db.query(
      `UPDATE orders SET status = 'FAILED', failure_reason = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'`,
      [undo.orderId, failure],
    )
  },
  (items, deps) =>
    manyOrEach(
      items.map((item) => item.input),
      async (inputs) => {
        await deps.db.query(
          `INSERT INTO orders (id, sale_id, token_id, token_gen, shopper, status, amount_cents, currency, payment_method, idempotency_key, created_at)
           SELECT o."orderId", o."saleId", o.tid, o.gen, o.shopper, 'PENDING', o."amountCents", o.currency, o."paymentMethod", o."idempotencyKey",
                  to_timestamp(o."redeemedAt" / 1000.0)
           FROM jsonb_to_recordset($1::jsonb) AS o("orderId" text, "saleId" text, tid text, gen integer, shopper text, "amountCents" bigint,
                currency text, "paymentMethod" text, "idempotencyKey" text, "redeemedAt" double precision)
           ON CONFLICT DO NOTHING`,
          [JSON.stringify(inputs)],
        )
        return inputs.map((input) => fulfilled(stepResult(null, { orderId: input.orderId })))
      },
      (input) => createOrder(input, deps),
    ),
)
