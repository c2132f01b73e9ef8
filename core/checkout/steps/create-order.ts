import { defineStep, stepResult } from '../../saga/saga.ts'
import type { CheckoutDeps, CheckoutInput } from '../deps.ts'

export const createOrderStepId = 'create-order-step'

/** Records the order as PENDING. Undo: the order becomes FAILED with the saga's reason. */
export const createOrderStep = defineStep(
  createOrderStepId,
  async (input: CheckoutInput, { deps }) => {
    await deps.db.query(
      `INSERT INTO orders (id, sale_id, token_id, token_gen, shopper, status, amount_cents, currency, payment_method, idempotency_key, created_at)
       VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, $8, $9, to_timestamp($10 / 1000.0))
       ON CONFLICT (id) DO NOTHING`,
      [input.orderId, input.saleId, input.tid, input.gen, input.shopper, input.amountCents, input.currency, input.paymentMethod, input.idempotencyKey, input.redeemedAt],
    )
    return stepResult(null, { orderId: input.orderId })
  },
  async (undo: { orderId: string } | undefined, deps: CheckoutDeps, failure: string) => {
    if (!undo) return
    await deps.db.query(
      `UPDATE orders SET status = 'FAILED', failure_reason = $2, updated_at = now() WHERE id = $1 AND status = 'PENDING'`,
      [undo.orderId, failure],
    )
  },
)
