import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  GatewayRejectedError,
  GatewayUnavailableError,
  type AuthorizeRequest,
  type AuthorizeResult,
  type PaymentGateway,
  type PaymentSnapshot,
  type RefundCall,
} from './gateway.ts'

export interface SimulatedGatewayOptions {
  /** Mean latency of each call; the real value is spread ±50% around it. */
  latencyMs?: number
  /** Share of authorizations declined, 0..1. Decided by the idempotency key, so a retry gets the same answer. */
  failureRate?: number
  /**
   * Share of calls that fail as a timeout or a 5xx would (GatewayUnavailableError), 0..1, at random.
   * Half of them fail after doing the work (the answer was lost), half before (the request was lost).
   */
  unavailableRate?: number
}

/** Stripe's test payment methods that always decline. */
const DECLINING_METHODS = new Set([
  'pm_card_chargeDeclined',
  'pm_card_visa_chargeDeclined',
  'pm_card_chargeDeclinedInsufficientFunds',
])

function unitInterval(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 0x1_0000_0000
}

/**
 * An in-process stand-in for a card gateway: latency, declines and idempotent replies like a real one.
 * It keeps a ledger of what it did so tests can count authorizations, captures and voids per order.
 */
export class SimulatedGateway implements PaymentGateway {
  readonly name = 'simulated'
  readonly ledger = new Map<
    string,
    { orderId: string; amountCents: number; state: 'authorized' | 'captured' | 'voided'; captures: number }
  >()
  /** Refunds by idempotency key. */
  readonly refunds = new Map<string, { ref: string; amountCents: number; refundRef: string }>()
  private readonly declined = new Set<string>()
  private readonly latencyMs: number
  private readonly failureRate: number
  unavailableRate: number

  constructor({ latencyMs = 50, failureRate = 0, unavailableRate = 0 }: SimulatedGatewayOptions = {}) {
    this.latencyMs = latencyMs
    this.failureRate = failureRate
    this.unavailableRate = unavailableRate
  }

  private async delay(): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.latencyMs * (0.5 + Math.random()))
  }

  /** Runs `work` like a remote call: maybe lost before, maybe its answer lost after. */
  private async call<T>(what: string, work: () => T): Promise<T> {
    await this.delay()
    const roll = Math.random()
    if (roll < this.unavailableRate / 2) throw new GatewayUnavailableError(`simulated ${what}: request lost`)
    const result = work()
    if (roll < this.unavailableRate) throw new GatewayUnavailableError(`simulated ${what}: answer lost`)
    return result
  }

  async authorize(request: AuthorizeRequest): Promise<AuthorizeResult> {
    return this.call('authorize', () => {
      if (DECLINING_METHODS.has(request.paymentMethod) || unitInterval(request.idempotencyKey) < this.failureRate) {
        this.declined.add(request.orderId)
        return { status: 'declined', reason: 'card_declined' }
      }
      const ref = `simpi_${createHash('sha256').update(request.idempotencyKey).digest('hex').slice(0, 24)}`
      if (!this.ledger.has(ref))
        this.ledger.set(ref, {
          orderId: request.orderId,
          amountCents: request.amountCents,
          state: 'authorized',
          captures: 0,
        })
      return { status: 'authorized', ref }
    })
  }

  async capture({ ref, amountCents }: { ref: string; amountCents: number; idempotencyKey: string }): Promise<void> {
    return this.call('capture', () => {
      const entry = this.ledger.get(ref)
      if (!entry) return // authorized by an earlier process: a real gateway would know; the simulation accepts
      if (entry.state === 'voided')
        throw new GatewayRejectedError(`cannot capture voided authorization ${ref}`, 'payment_intent_unexpected_state')
      if (amountCents > entry.amountCents)
        throw new GatewayRejectedError(
          `capture of ${amountCents} exceeds authorization ${entry.amountCents}`,
          'amount_too_large',
        )
      if (entry.state === 'authorized') {
        entry.state = 'captured'
        entry.captures += 1
      }
    })
  }

  async void({ ref }: { ref: string; idempotencyKey: string }): Promise<void> {
    return this.call('void', () => {
      const entry = this.ledger.get(ref)
      if (entry?.state === 'captured')
        throw new GatewayRejectedError(`cannot void captured payment ${ref}`, 'payment_intent_unexpected_state')
      if (entry) entry.state = 'voided'
    })
  }

  async refund({ ref, amountCents, idempotencyKey }: RefundCall): Promise<{ refundRef: string }> {
    return this.call('refund', () => {
      const seen = this.refunds.get(idempotencyKey)
      if (seen) return { refundRef: seen.refundRef }
      const entry = this.ledger.get(ref)
      if (!entry || entry.state !== 'captured')
        throw new GatewayRejectedError(`payment ${ref} is not captured`, 'charge_not_refundable')
      const refunded = [...this.refunds.values()]
        .filter((r) => r.ref === ref)
        .reduce((sum, r) => sum + r.amountCents, 0)
      if (refunded + amountCents > entry.amountCents)
        throw new GatewayRejectedError(`refund of ${amountCents} exceeds what is left`, 'amount_too_large')
      const refundRef = `simre_${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`
      this.refunds.set(idempotencyKey, { ref, amountCents, refundRef })
      return { refundRef }
    })
  }

  async retrieve({ orderId, ref }: { orderId: string; ref?: string | null }): Promise<PaymentSnapshot> {
    return this.call('retrieve', () => {
      const found = ref
        ? ([ref, this.ledger.get(ref)] as const)
        : [...this.ledger.entries()].find(([, e]) => e.orderId === orderId)
      const entry = found?.[1]
      if (!found || !entry) {
        const state = this.declined.has(orderId) ? 'declined' : 'none'
        return { state, ref: null, amountCents: 0, capturedCents: 0, refundedCents: 0 }
      }
      const refundedCents = [...this.refunds.values()]
        .filter((r) => r.ref === found[0])
        .reduce((sum, r) => sum + r.amountCents, 0)
      const state = entry.state === 'captured' ? 'captured' : entry.state === 'voided' ? 'voided' : 'authorized'
      return {
        state,
        ref: found[0],
        amountCents: entry.amountCents,
        capturedCents: entry.state === 'captured' ? entry.amountCents : 0,
        refundedCents,
      }
    })
  }
}
