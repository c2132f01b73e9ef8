import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AuthorizeRequest, AuthorizeResult, PaymentGateway } from './gateway.ts'

export interface SimulatedGatewayOptions {
  /** Mean latency of each call; the real value is spread ±50% around it. */
  latencyMs?: number
  /** Share of authorizations declined, 0..1. Decided by the idempotency key, so a retry gets the same answer. */
  failureRate?: number
}

/** Stripe's test payment methods that always decline. */
const DECLINING_METHODS = new Set(['pm_card_chargeDeclined', 'pm_card_visa_chargeDeclined', 'pm_card_chargeDeclinedInsufficientFunds'])

function unitInterval(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 0x1_0000_0000
}

/**
 * An in-process stand-in for a card gateway: latency, declines and idempotent replies like a real one.
 * It keeps a ledger of what it did so tests can count authorizations, captures and voids per order.
 */
export class SimulatedGateway implements PaymentGateway {
  readonly name = 'simulated'
  readonly ledger = new Map<string, { orderId: string; amountCents: number; state: 'authorized' | 'captured' | 'voided'; captures: number }>()
  private readonly latencyMs: number
  private readonly failureRate: number

  constructor({ latencyMs = 50, failureRate = 0 }: SimulatedGatewayOptions = {}) {
    this.latencyMs = latencyMs
    this.failureRate = failureRate
  }

  private async delay(): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.latencyMs * (0.5 + Math.random()))
  }

  async authorize(request: AuthorizeRequest): Promise<AuthorizeResult> {
    await this.delay()
    if (DECLINING_METHODS.has(request.paymentMethod)) return { status: 'declined', reason: 'card_declined' }
    if (unitInterval(request.idempotencyKey) < this.failureRate) return { status: 'declined', reason: 'card_declined' }
    const ref = `simpi_${createHash('sha256').update(request.idempotencyKey).digest('hex').slice(0, 24)}`
    if (!this.ledger.has(ref)) this.ledger.set(ref, { orderId: request.orderId, amountCents: request.amountCents, state: 'authorized', captures: 0 })
    return { status: 'authorized', ref }
  }

  async capture({ ref, amountCents }: { ref: string; amountCents: number; idempotencyKey: string }): Promise<void> {
    await this.delay()
    const entry = this.ledger.get(ref)
    if (!entry) return // authorized by an earlier process: a real gateway would know; the simulation accepts
    if (entry.state === 'voided') throw new Error(`cannot capture voided authorization ${ref}`)
    if (amountCents > entry.amountCents) throw new Error(`capture of ${amountCents} exceeds authorization ${entry.amountCents}`)
    if (entry.state === 'authorized') {
      entry.state = 'captured'
      entry.captures += 1
    }
  }

  async void({ ref }: { ref: string; idempotencyKey: string }): Promise<void> {
    await this.delay()
    const entry = this.ledger.get(ref)
    if (entry?.state === 'captured') throw new Error(`cannot void captured payment ${ref}`)
    if (entry) entry.state = 'voided'
  }
}
