import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq'
import type { CheckoutJob, TokenOutcome } from '../../contracts/index.ts'

export const QUEUE_NAMES = { checkout: 'checkout', roomOutcomes: 'room-outcomes', maintenance: 'maintenance' } as const
export const SWEEP_HOLDS_JOB = 'sweep-holds'
/** Room notifications retry quickly and keep retrying: a late "returned" keeps a unit from the next shopper. */
export const ROOM_OUTCOME_ATTEMPTS = 1000
export function roomOutcomeBackoff(attemptsMade: number): number {
  return Math.min(5_000, 250 * 2 ** Math.max(0, attemptsMade - 1))
}

export interface RoomOutcomeJob {
  saleId: string
  outcome: TokenOutcome
}

/** The BullMQ queues core writes to. Job ids make every enqueue idempotent. */
export class Jobs {
  readonly checkout: Queue<CheckoutJob>
  readonly roomOutcomes: Queue<RoomOutcomeJob>
  readonly maintenance: Queue
  private closing?: Promise<void>

  constructor(
    connection: ConnectionOptions,
    readonly prefix: string,
    private readonly checkoutAttempts: number,
  ) {
    const opts = { connection, prefix }
    this.checkout = new Queue<CheckoutJob>(QUEUE_NAMES.checkout, opts)
    this.roomOutcomes = new Queue<RoomOutcomeJob>(QUEUE_NAMES.roomOutcomes, opts)
    this.maintenance = new Queue(QUEUE_NAMES.maintenance, opts)
  }

  async enqueueCheckout(job: CheckoutJob): Promise<void> {
    await this.checkout.add('checkout', job, {
      jobId: job.orderId,
      attempts: this.checkoutAttempts,
      backoff: { type: 'exponential', delay: 250 },
      removeOnComplete: { age: 3600, count: 100_000 },
      removeOnFail: { age: 24 * 3600 },
    })
  }

  async enqueueRoomOutcome(saleId: string, outcome: TokenOutcome): Promise<void> {
    await this.roomOutcomes.add('outcome', { saleId, outcome }, {
      jobId: `${saleId}.${outcome.tid}.${outcome.gen}.${outcome.outcome}`,
      attempts: ROOM_OUTCOME_ATTEMPTS,
      backoff: { type: 'custom' },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    })
  }

  async scheduleSweep(everyMs: number): Promise<void> {
    await this.maintenance.upsertJobScheduler(SWEEP_HOLDS_JOB, { every: everyMs }, { name: SWEEP_HOLDS_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } })
  }

  async pendingCheckout(orderId: string): Promise<CheckoutJob | null> {
    const job = await this.checkout.getJob(orderId)
    return job ? job.data : null
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([this.checkout.close(), this.roomOutcomes.close(), this.maintenance.close()]).then(() => {})
    return this.closing
  }
}

export type { Job, Worker }
