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
  logger: Logger
}

export type CheckoutInput = CheckoutJob
export type CheckoutContext = StepContext<CheckoutDeps>

/** Idempotency keys for the gateway: derived from the order, identical on every retry. */
export const paymentKey = (orderId: string, action: 'authorize' | 'capture' | 'void') => `floodgate:${orderId}:${action}`
