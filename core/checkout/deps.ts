import type pg from 'pg'
import type { CheckoutJob, TokenOutcome } from '../../contracts/index.ts'
import type { Logger } from '../logger.ts'
import type { PaymentGateway } from '../payment/gateway.ts'
import type { Scripts } from '../redis/scripts.ts'
import type { StepContext } from '../saga/saga.ts'

/** What the checkout steps reach for. */
export interface CheckoutDeps {
  db: pg.Pool
  scripts: Scripts
  gateway: PaymentGateway
  /** Tells the waiting room what became of a token; must be idempotent per (tid, gen, outcome). */
  reportToken(saleId: string, outcome: TokenOutcome): Promise<void>
  /** The same for the tokens of one sale settled in one batch (one message to the room); else `reportToken` each. */
  reportTokens?(saleId: string, outcomes: TokenOutcome[]): Promise<void>
  logger: Logger
  /** How hard the payment steps push the gateway; defaults in DEFAULT_PAYMENT_POLICY. */
  payments?: PaymentPolicy
}

export interface PaymentPolicy {
  /** Gateway calls per step run (same key, backoff) before the error goes back to BullMQ. */
  callTries: number
  /** Authorization calls over all job runs after which the saga is SUSPENDED and the payment left PENDING. */
  maxTries: number
  /** First backoff between calls. */
  backoffMs: number
}
export const DEFAULT_PAYMENT_POLICY: PaymentPolicy = { callTries: 3, maxTries: 12, backoffMs: 200 }

export type CheckoutInput = CheckoutJob
export type CheckoutContext = StepContext<CheckoutDeps>

/** Positions of a batch's items by sale (each sale's SQL guards and room message are its own); `keep` filters them. */
export function positionsBySale(
  inputs: CheckoutInput[],
  keep: (i: number) => boolean = () => true,
): Map<string, number[]> {
  const bySale = new Map<string, number[]>()
  inputs.forEach((input, i) => {
    if (!keep(i)) return
    const at = bySale.get(input.saleId)
    if (at) at.push(i)
    else bySale.set(input.saleId, [i])
  })
  return bySale
}
