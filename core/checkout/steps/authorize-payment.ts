import {
  PermanentFailure,
  SuspendSaga,
  defineStep,
  fulfilled,
  manyOrEach,
  rejected,
  stepResult,
  type StepResult,
} from '../../saga/saga.ts'
import { GatewayUnavailableError, type AuthorizeResult } from '../../payment/gateway.ts'
import { withGatewayRetries } from '../../payment/retry.ts'
import { paymentKey } from '../../payment/keys.ts'
import {
  attemptsSpent,
  countAttempt,
  countAttempts,
  markAnswered,
  markAuthorized,
  markDeclined,
  markVoided,
  openPayment,
  openPayments,
  type PaymentRow,
} from '../../payment/transitions.ts'
import { DEFAULT_PAYMENT_POLICY, type CheckoutDeps, type CheckoutInput } from '../deps.ts'

export const authorizePaymentStepId = 'authorize-payment-step'

type Authorized = StepResult<{ ref: string }, { orderId: string; ref: string }>
const authorized = (orderId: string, ref: string): Authorized => stepResult({ ref }, { orderId, ref })

/** What the payment row, as found, says to do: an answer already known, or call the gateway. */
function fromRow(input: CheckoutInput, row: PaymentRow): Authorized | 'call' {
  if (row.status === 'DECLINED') throw new PermanentFailure(row.failure ?? 'payment_declined')
  // Settled meanwhile by reconciliation or a webhook (both re-read the gateway): use that answer.
  if (row.status !== 'PENDING' && row.status !== 'VOIDED' && row.gateway_ref)
    return authorized(input.orderId, row.gateway_ref)
  if (row.status !== 'PENDING') throw new PermanentFailure(`payment_${row.status.toLowerCase()}`)
  return 'call'
}

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
        beforeCall: async (call) =>
          call === 0 && firstCounted !== undefined
            ? firstCounted
            : countAttempt(deps.db, input.orderId, policy.maxTries),
      },
    )
  } catch (error) {
    if (!(error instanceof GatewayUnavailableError)) throw error
    if (await attemptsSpent(deps.db, input.orderId, policy.maxTries)) {
      deps.logger.warn(
        { orderId: input.orderId, err: error.message },
        'gateway still unavailable: payment PENDING, saga suspended for reconciliation',
      )
      throw new SuspendSaga('payment_pending')
    }
    throw error
  }
}

async function authorizeOne(input: CheckoutInput, deps: CheckoutDeps): Promise<Authorized> {
  const known = fromRow(input, await openPayment(deps.db, deps.gateway.name, input))
  if (known !== 'call') return known
  const result = await callGateway(input, deps)
  if (result.status === 'declined') {
    const reason = `payment_declined:${result.reason}`
    await markDeclined(deps.db, input.orderId, reason)
    throw new PermanentFailure(reason)
  }
  await markAuthorized(deps.db, input.orderId, result.ref)
  return authorized(input.orderId, result.ref)
}

/**
 * `authorizeOne` for a batch: one statement writes every PENDING row, one counts every first call, the
 * gateway calls run side by side, and one statement each records the authorizations and the declines.
 */
async function authorizeMany(inputs: CheckoutInput[], deps: CheckoutDeps): Promise<PromiseSettledResult<Authorized>[]> {
  const policy = deps.payments ?? DEFAULT_PAYMENT_POLICY
  // A new row is written with its first call already counted (attempts = 1): one write instead of two.
  const rows = await openPayments(deps.db, deps.gateway.name, inputs)
  const byOrder = new Map(rows.map((row) => [row.order_id, row]))
  const known = inputs.map((input) => {
    try {
      return fulfilled(fromRow(input, byOrder.get(input.orderId)!))
    } catch (error) {
      return rejected(error)
    }
  })
  const toCall = inputs.filter(
    (_, i) => known[i]!.status === 'fulfilled' && (known[i] as PromiseFulfilledResult<unknown>).value === 'call',
  )
  const allowed = new Set(rows.filter((row) => row.inserted).map((row) => row.order_id))
  const again = toCall.filter((input) => !allowed.has(input.orderId)).map((input) => input.orderId)
  if (again.length) {
    for (const orderId of await countAttempts(deps.db, again, policy.maxTries)) allowed.add(orderId)
  }
  const answers = new Map(
    await Promise.all(
      toCall.map(
        async (input) =>
          [
            input.orderId,
            await callGateway(input, deps, allowed.has(input.orderId)).then(fulfilled, rejected),
          ] as const,
      ),
    ),
  )
  const declined: { orderId: string; reason: string }[] = []
  const approved: { orderId: string; ref: string }[] = []
  for (const [orderId, answer] of answers) {
    if (answer.status !== 'fulfilled') continue
    if (answer.value.status === 'declined')
      declined.push({ orderId, reason: `payment_declined:${answer.value.reason}` })
    else approved.push({ orderId, ref: answer.value.ref })
  }
  await markAnswered(deps.db, [...declined, ...approved])
  return inputs.map((input, i) => {
    const found = known[i]!
    if (found.status === 'rejected' || found.value !== 'call') return found as PromiseSettledResult<Authorized>
    const answer = answers.get(input.orderId)!
    if (answer.status === 'rejected') return answer
    if (answer.value.status === 'declined')
      return rejected(new PermanentFailure(`payment_declined:${answer.value.reason}`))
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
      await withGatewayRetries(
        () => deps.gateway.void({ ref: undo.ref, idempotencyKey: paymentKey(undo.orderId, 'void') }),
        { tries: policy.callTries, baseMs: policy.backoffMs },
      )
    } catch (error) {
      deps.logger.error({ orderId: undo.orderId, ref: undo.ref, err: error }, 'void of payment authorization failed')
      throw error
    }
    await markVoided(deps.db, undo.orderId)
  },
  (items, deps) =>
    manyOrEach(
      items.map((item) => item.input),
      (inputs) => authorizeMany(inputs, deps),
      (input) => authorizeOne(input, deps),
    ),
)
