import { createHash } from 'node:crypto'
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq'
import {
  RECONCILE_JOBS,
  type CheckoutJob,
  type NotificationBatchJob,
  type NotificationJob,
  type OrderEvent,
  type TokenOutcome,
} from '../../contracts/index.ts'

export const QUEUE_NAMES = {
  checkout: 'checkout',
  roomOutcomes: 'room-outcomes',
  maintenance: 'maintenance',
  notifications: 'notifications',
} as const
export const SWEEP_HOLDS_JOB = 'sweep-holds'
/** Job states in which a checkout job will still run by itself. */
const LIVE_STATES = new Set(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'])
/** Room notifications retry quickly and keep retrying: a late "returned" keeps a unit from the next shopper. */
export const ROOM_OUTCOME_ATTEMPTS = 1000
export function roomOutcomeBackoff(attemptsMade: number): number {
  return Math.min(5_000, 250 * 2 ** Math.max(0, attemptsMade - 1))
}

/** One outcome (`outcome`), or the outcomes of one settlement batch (`outcomes`, one request to the room). */
export interface RoomOutcomeJob {
  saleId: string
  outcome?: TokenOutcome
  outcomes?: TokenOutcome[]
}
/** Most items one batch job carries (the room's and the job schema's limit). */
const BATCH_JOB_ITEMS = 1000
/**
 * Splits a set of items into batch jobs of at most BATCH_JOB_ITEMS, each with an id derived from its items'
 * keys: the same set, in any order, gives the same jobs, so enqueueing it again is a no-op.
 */
function batchJobs<T>(kind: string, items: T[], keyOf: (item: T) => string): { jobId: string; items: T[] }[] {
  const keyed = items
    .map((item) => ({ key: keyOf(item), item }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const jobs: { jobId: string; items: T[] }[] = []
  for (let i = 0; i < keyed.length; i += BATCH_JOB_ITEMS) {
    const chunk = keyed.slice(i, i + BATCH_JOB_ITEMS)
    const digest = createHash('sha256')
      .update(chunk.map((k) => k.key).join(','))
      .digest('hex')
      .slice(0, 32)
    jobs.push({ jobId: `batch.${kind}.${digest}`, items: chunk.map((k) => k.item) })
  }
  return jobs
}

/** The BullMQ queues core writes to. Job ids make every enqueue idempotent. */
export class Jobs {
  readonly checkout: Queue<CheckoutJob>
  readonly roomOutcomes: Queue<RoomOutcomeJob>
  readonly maintenance: Queue
  readonly notifications: Queue<NotificationJob | NotificationBatchJob>
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
    this.notifications = new Queue<NotificationJob | NotificationBatchJob>(QUEUE_NAMES.notifications, opts)
  }

  /**
   * Runs a saga again after its job is gone (completed as suspended, failed after its attempts, or lost
   * with Redis). Skips it while a job for it is still live. Returns whether a job was added.
   */
  async resumeCheckout(job: CheckoutJob): Promise<boolean> {
    const resumeId = `${job.orderId}.resume`
    for (const id of [job.orderId, resumeId]) {
      const existing = await this.checkout.getJob(id)
      if (!existing) continue
      const state = await existing.getState()
      if (LIVE_STATES.has(state)) return false
      if (id === resumeId) await existing.remove().catch(() => {})
    }
    await this.checkout.add('checkout', job, {
      jobId: resumeId,
      attempts: this.checkoutAttempts,
      backoff: { type: 'exponential', delay: 250 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    })
    return true
  }

  private readonly notificationOpts = {
    attempts: 20,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: { age: 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  }

  /** One job per (order, type, ref): re-announcing is a no-op while the job is kept. */
  async enqueueNotification(event: OrderEvent, recipient: string): Promise<void> {
    await this.notifications.add(
      'notify',
      { event, recipient },
      { jobId: `${event.orderId}.${event.type}.${event.ref || '-'}`, ...this.notificationOpts },
    )
  }

  /** The notifications of one settlement batch, one job per 1,000; providers dedupe per (order, type, ref). */
  async enqueueNotifications(notifications: NotificationJob[]): Promise<void> {
    if (notifications.length === 1)
      return this.enqueueNotification(notifications[0]!.event, notifications[0]!.recipient)
    for (const { jobId, items } of batchJobs(
      'notify',
      notifications,
      ({ event }) => `${event.orderId}.${event.type}.${event.ref || '-'}`,
    ))
      await this.notifications.add('notify-batch', { notifications: items }, { jobId, ...this.notificationOpts })
  }

  /** The repeatable maintenance jobs. Safe to call again (also after Redis lost its data). */
  async scheduleMaintenance(sweepEveryMs: number, reconcileEveryMs: number): Promise<void> {
    await this.scheduleSweep(sweepEveryMs)
    for (const name of RECONCILE_JOBS) {
      if (name === 'expired-holds') continue // the sweep above
      const id = `reconcile-${name}`
      // 0: reconciliation runs only when asked (POST /admin/reconcile/<job>, or an operator's own scheduler).
      if (reconcileEveryMs === 0) await this.maintenance.removeJobScheduler(id)
      else
        await this.maintenance.upsertJobScheduler(
          id,
          { every: reconcileEveryMs },
          { name: id, opts: { removeOnComplete: 50, removeOnFail: 50 } },
        )
    }
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

  private readonly roomOutcomeOpts = {
    attempts: ROOM_OUTCOME_ATTEMPTS,
    backoff: { type: 'custom' },
    removeOnComplete: { age: 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  }

  async enqueueRoomOutcome(saleId: string, outcome: TokenOutcome): Promise<void> {
    await this.roomOutcomes.add(
      'outcome',
      { saleId, outcome },
      { jobId: `${saleId}.${outcome.tid}.${outcome.gen}.${outcome.outcome}`, ...this.roomOutcomeOpts },
    )
  }

  /** Outcomes of one sale from one settlement batch: one job, so one request to the room, per 1,000. */
  async enqueueRoomOutcomes(saleId: string, outcomes: TokenOutcome[]): Promise<void> {
    if (outcomes.length === 1) return this.enqueueRoomOutcome(saleId, outcomes[0]!)
    for (const { jobId, items } of batchJobs('outcomes', outcomes, (o) => `${o.tid}.${o.gen}.${o.outcome}`))
      await this.roomOutcomes.add(
        'outcomes',
        { saleId, outcomes: items },
        { jobId: `${saleId}.${jobId}`, ...this.roomOutcomeOpts },
      )
  }

  async scheduleSweep(everyMs: number): Promise<void> {
    await this.maintenance.upsertJobScheduler(
      SWEEP_HOLDS_JOB,
      { every: everyMs },
      { name: SWEEP_HOLDS_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    )
  }

  async pendingCheckout(orderId: string): Promise<CheckoutJob | null> {
    const job = await this.checkout.getJob(orderId)
    return job ? job.data : null
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([
      this.checkout.close(),
      this.roomOutcomes.close(),
      this.maintenance.close(),
      this.notifications.close(),
    ]).then(() => {})
    return this.closing
  }
}

export type { Job, Worker }
