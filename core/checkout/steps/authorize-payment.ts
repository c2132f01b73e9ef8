import { PermanentFailure, SuspendSaga, defineStep, fulfilled, manyOrEach, rejected, stepResult, type StepResult } from '../../saga/saga.ts'
import { GatewayUnavailableError, type AuthorizeResult } from '../../payment/gateway.ts'
import { withGatewayRetries } from '../../payment/retry.ts'
import { DEFAULT_PAYMENT_POLICY, paymentKey, type CheckoutDeps, type CheckoutInput } from '../deps.ts'

export const authorizePaymentStepId = 'authorize-payment-step'

interface PaymentRow {
  status: string
  gateway_ref: string | null
  attempts: number
  failure: string | null
}

type Authorized = StepResult<{ ref: string }, { orderId: string; ref: string }>
const authorized = (orderId: string, ref: string): Authorized => stepResult({ ref }, { orderId, ref })

/** What the payment row, as found, says to do: an answer already known, or call the gateway. */
function fromRow(input: CheckoutInput, row: PaymentRow): Authorized | 'call' {
  if (row.status === 'DECLINED') throw new PermanentFailure(row.failure ?? 'payment_declined')
  // Settled meanwhile by reconciliation or a webhook (both re-read the gateway): use that answer.
  if (row.status !== 'PENDING' && row.status !== 'VOIDED' && row.gateway_ref) return authorized(input.orderId, row.gateway_ref)
  if (row.status !== 'PENDING') throw new PermanentFailure(`payment_${row.status.toLowerCase()}`)
  return 'call'
}

const countAttempt = async (deps: CheckoutDeps, orderId: string, maxTries: number) =>
  (await deps.db.query(`UPDATE payments SET attempts = attempts + 1, updated_at = now() WHERE order_id = $1 AND attempts < $2`, [orderId, maxTries])).rowCount === 1

/**
 * Calls the gateway (same key on every call), counting each call on the payment row first. `firstCounted`:
 * the caller already counted the first call (true) or found the budget spent (false).
 */
async function callGateway(input: CheckoutInput, deps: CheckoutDeps, firstCounted?: boolean): Promise<AuthorizeResult> {
  const policy = deps.payments ?? DEFAULT_PAYMENT_POLICY
  try {
    return await withGatewayRetries(
      () =>
        deps.gateway.authorize({
          orderId: input.orderId,
          amountCents: input.amountCents,
          currency: input.currency,
          paymentMethod: input.paymentMethod,
          idempotencyKey: paymentKey(input.orderId, 'authorize'),
        }),
      {
        tries: policy.callTries,
        baseMs: policy.backoffMs,
        beforeCall: async (call) => (call === 0 && firstCounted !== undefined ? firstCounted : countAttempt(deps, input.orderId, policy.maxTries)),
      },
    )
  } catch (error) {
    if (!(error instanceof GatewayUnavailableError)) throw error
    const spent = await deps.db.query(`SELECT 1 FROM payments WHERE order_id = $1 AND attempts >= $2`, [input.orderId, policy.maxTries])
    if (spent.rowCount) {
      deps.logger.warn({ orderId: input.orderId, err: error.message }, 'gateway still unavailable: payment PENDING, saga suspended for reconciliation')
      throw new SuspendSaga('payment_pending')
    }
    throw error
  }
}

async function authorizeOne(input: CheckoutInput, deps: CheckoutDeps): Promise<Authorized> {
  const { rows } = await deps.db.query<PaymentRow>(
    `INSERT INTO payments (order_id, gateway, status, amount_cents, currency) VALUES ($1, $2, 'PENDING', $3, $4)
     ON CONFLICT (order_id) DO UPDATE SET updated_at = payments.updated_at
     RETURNING status, gateway_ref, attempts, failure`,
    [input.orderId, deps.gateway.name, input.amountCents, input.currency],
  )
  const known = fromRow(input, rows[0]!)
  if (known !== 'call') return known
  const result = await callGateway(input, deps)
  if (result.status === 'declined') {
    const reason = `payment_declined:${result.reason}`
    await deps.db.query(`UPDATE payments SET status = 'DECLINED', failure = $2, updated_at = now() WHERE order_id = $1 AND status = 'PENDING'`, [input.orderId, reason])
    throw new PermanentFailure(reason)
  }
  await deps.db.query(`UPDATE payments SET status = 'AUTHORIZED', gateway_ref = $2, updated_at = now() WHERE order_id = $1 AND status = 'PENDING'`, [
    input.orderId,
    result.ref,
  ])
  return authorized(input.orderId, result.ref)
}

/**
 * `authorizeOne` for a batch: one statement writes every PENDING row, one counts every first call, the
 * gateway calls run side by side, and one statement each records the authorizations and the declines.
 */
async function authorizeMany(inputs: CheckoutInput[], deps: CheckoutDeps): Promise<PromiseSettledResult<Authorized>[]> {
  const policy = deps.payments ?? DEFAULT_PAYMENT_POLICY
  // A new row is written with its first call already counted (attempts = 1): one write instead of two.
  const { rows } = await deps.db.query<PaymentRow & { order_id: string; inserted: boolean }>(
    `INSERT INTO payments (order_id, gateway, status, amount_cents, currency, attempts)
     SELECT p."orderId", $2, 'PENDING', p."amountCents", p.currency, 1 FROM jsonb_to_recordset($1::jsonb) AS p("orderId" text, "amountCents" bigint, currency text)
     ORDER BY p."orderId"
     ON CONFLICT (order_id) DO UPDATE SET updated_at = payments.updated_at
     RETURNING order_id, status, gateway_ref, attempts, failure, (xmax = 0) AS inserted`,
    [JSON.stringify(inputs.map(({ orderId, amountCents, currency }) => ({ orderId, amountCents, currency }))), deps.gateway.name],
  )
  const byOrder = new Map(rows.map((row) => [row.order_id, row]))
  const known = inputs.map((input) => {
    try {
      return fulfilled(fromRow(input, byOrder.get(input.orderId)!))
    } catch (error) {
      return rejected(error)
    }
  })
  const toCall = inputs.filter((_, i) => known[i]!.status === 'fulfilled' && (known[i] as PromiseFulfilledResult<unknown>).value === 'call')
  const allowed = new Set(rows.filter((row) => row.inserted).map((row) => row.order_id))
  const again = toCall.filter((input) => !allowed.has(input.orderId)).map((input) => input.orderId)
  if (again.length) {
    const counted = await deps.db.query<{ order_id: string }>(
      `UPDATE payments SET attempts = attempts + 1, updated_at = now() WHERE order_id = ANY($1) AND attempts < $2 RETURNING order_id`,
      [again, policy.maxTries],
    )
    for (const row of counted.rows) allowed.add(row.order_id)
  }
  const answers = new Map(
    await Promise.all(toCall.map(async (input) => [input.orderId, await callGateway(input, deps, allowed.has(input.orderId)).then(fulfilled, rejected)] as const)),
  )
  const declined: { orderId: string; reason: string }[] = []
  const approved: { orderId: string; ref: string }[] = []
  for (const [orderId, answer] of answers) {
    if (answer.status !== 'fulfilled') continue
    if (answer.value.status === 'declined') declined.push({ orderId, reason: `payment_declined:${answer.value.reason}` })
    else approved.push({ orderId, ref: answer.value.ref })
  }
  await deps.db.query(
    `WITH answers AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS a("orderId" text, ref text, reason text))
     UPDATE payments p SET status = CASE WHEN a.ref IS NULL THEN 'DECLINED' ELSE 'AUTHORIZED' END,
       gateway_ref = COALESCE(a.ref, p.gateway_ref), failure = COALESCE(a.reason, p.failure), updated_at = now()
     FROM answers a WHERE p.order_id = a."orderId" AND p.status = 'PENDING'`,
    [JSON.stringify([...declined, ...approved])],
  )
  return inputs.map((input, i) => {
    const found = known[i]!
    if (found.status === 'rejected' || found.value !== 'call') return found as PromiseSettledResult<Authorized>
    const answer = answers.get(input.orderId)!
    if (answer.status === 'rejected') return answer
    if (answer.value.status === 'declined') return rejected(new PermanentFailure(`payment_declined:${answer.value.reason}`))
    return fulfilled(authorized(input.orderId, answer.value.ref))
  })
}

/**
 * Places a hold on the shopper's card; nothing is charged yet. A decline is final for this order.
 *
 * The payment row is written PENDING before the first call, so Postgres knows of every payment the
 * gateway might have made even if its answer is lost. Timeouts and 5xx are retried with the same key
 * (backoff), then by BullMQ; after PAYMENT_MAX_TRIES calls the saga is SUSPENDED with the payment
 * PENDING, and reconciliation asks the gateway and resumes it. A row already settled by reconciliation
 * or a webhook is used as is.
 *
 * Undo (runs when a later step fails before the order is confirmed): void the authorization, so the
 * shopper is never charged for a unit they did not get. A failed void is logged and rethrown (the job is
 * retried); the authorization would otherwise lapse on its own at the card network's deadline.
 */
export const authorizePaymentStep = defineStep(
  authorizePaymentStepId,
  async (input: CheckoutInput, { deps }) => authorizeOne(input, deps),
  async (undo: { orderId: string; ref: string } | undefined, deps: CheckoutDeps) => {
    if (!undo) return
    const policy = deps.payments ?? DEFAULT_PAYMENT_POLICY
    try {
      await withGatewayRetries(() => deps.gateway.void({ ref: undo.ref, idempotencyKey: paymentKey(undo.orderId, 'void') }), { tries: policy.callTries, baseMs: policy.backoffMs })
    } catch (error) {
      deps.logger.error({ orderId: undo.orderId, ref: undo.ref, err: error }, 'void of payment authorization failed')
      throw error
    }
    await deps.db.query(`UPDATE payments SET status = 'VOIDED', updated_at = now() WHERE order_id = $1 AND status IN ('AUTHORIZED', 'PENDING')`, [undo.orderId])
  },
  (items, deps) =>
    manyOrEach(
      items.map((item) => item.input),
      (inputs) => authorizeMany(inputs, deps),
      (input) => authorizeOne(input, deps),
    ),
)
