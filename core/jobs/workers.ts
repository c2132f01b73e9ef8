import { Worker, type ConnectionOptions } from 'bullmq'
import type pg from 'pg'
import { CheckoutJob, NotificationBatchJob, NotificationJob, ReconcileJobName, type OrderEvent } from '../../contracts/index.ts'
import type { CheckoutDeps } from '../checkout/deps.ts'
import { checkoutWorkflow } from '../checkout/workflows/checkout.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { deliverNotifications, type NotificationProvider } from '../notify/notifications.ts'
import type { Reconciler } from '../reconcile/reconciler.ts'
import type { Scripts } from '../redis/scripts.ts'
import type { RoomReporter } from '../room/room-reporter.ts'
import { runSagaBatch, type SagaItem } from '../saga/saga-batch.ts'
import { SagaBatcher, type SagaBatcherOptions } from '../saga/saga-batcher.ts'
import type { SagaRecord, SagaStore } from '../saga/saga.ts'
import type { Sales } from '../sale/sales.ts'
import { QUEUE_NAMES, SWEEP_HOLDS_JOB, roomOutcomeBackoff, type Jobs, type RoomOutcomeJob } from './jobs.ts'

export interface WorkerDeps {
  connection: ConnectionOptions
  jobs: Jobs
  checkoutDeps: CheckoutDeps
  sagaStore: SagaStore
  sales: Sales
  scripts: Scripts
  reporter: RoomReporter
  metrics: Metrics
  logger: Logger
  checkoutConcurrency: number
  /** How checkout sagas are gathered into batches (see SagaBatcher); without it, one saga at a time. */
  settleBatch?: SagaBatcherOptions
  /** Lock of a running job, and how often stalled ones are looked for (BullMQ lockDuration/stalledInterval), every queue. */
  jobLockMs?: number
  /** Called with the checkout sagas of a batch that reached their final state. */
  onSettled?: (orderIds: string[]) => Promise<void>
  reconciler?: Reconciler
  notificationProviders?: NotificationProvider[]
}

const SWEEP_BATCH = 500

/**
 * Releases every expired hold of every sale and hands the tokens back to the waiting room. With `db`, also
 * settles holds whose order is already final in Postgres (a hold restored by a Redis rebuild while its saga
 * was compensating, a finalize lost with a crash): FAILED -> released now, CONFIRMED -> sold, instead of
 * waiting out the hold's expiry.
 */
export async function sweepHolds(deps: Pick<WorkerDeps, 'sales' | 'scripts' | 'jobs' | 'metrics' | 'logger'> & { db?: pg.Pool }, nowMs = Date.now()): Promise<number> {
  let total = 0
  for (const saleId of await deps.sales.ids()) {
    if (deps.db) {
      const holds = await deps.scripts.holdOrderIds(saleId)
      if (holds.length) {
        const { rows } = await deps.db.query<{ id: string; status: string }>(
          `SELECT o.id, o.status FROM orders o JOIN sagas s ON s.id = o.id
           WHERE o.id = ANY($1) AND ((o.status = 'FAILED' AND s.status = 'COMPENSATED') OR (o.status = 'CONFIRMED' AND s.status = 'COMPLETED'))`,
          [holds],
        )
        for (const row of rows) {
          if (row.status === 'FAILED') {
            const back = await deps.scripts.releaseHold(saleId, row.id)
            if (back) {
              await deps.jobs.enqueueRoomOutcome(saleId, { ...back, outcome: 'returned' })
              deps.metrics.holdsReleased.inc({ sale: saleId, reason: 'order_failed' })
              total++
            }
          } else {
            const sold = await deps.scripts.finalizeHold(saleId, row.id)
            if (sold) await deps.jobs.enqueueRoomOutcome(saleId, { ...sold, outcome: 'sold' })
          }
        }
      }
    }
    for (;;) {
      const released = await deps.scripts.releaseExpiredHolds(saleId, nowMs, SWEEP_BATCH)
      for (const hold of released) await deps.jobs.enqueueRoomOutcome(saleId, { tid: hold.tid, gen: hold.gen, outcome: 'returned' })
      if (released.length) {
        deps.metrics.holdsReleased.inc({ sale: saleId, reason: 'expired' }, released.length)
        deps.logger.info({ saleId, released: released.length }, 'released expired holds')
      }
      total += released.length
      if (released.length < SWEEP_BATCH) break
    }
  }
  return total
}

/** The BullMQ workers of core: checkout sagas, room notifications, and the hold sweep. */
export function startWorkers(deps: WorkerDeps): { workers: Worker[]; close: () => Promise<void> } {
  const { connection, jobs, metrics, logger } = deps
  const common = { connection, prefix: jobs.prefix, ...(deps.jobLockMs ? { lockDuration: deps.jobLockMs, stalledInterval: deps.jobLockMs } : {}) }

  const observe = (step: string, outcome: 'completed' | 'failed' | 'compensated') => metrics.sagaSteps.inc({ step, outcome })
  /** After a batch: one notification job and one "settled" message for all of its sagas that ended. */
  const announce = async (items: SagaItem<CheckoutJob>[], outcomes: Map<string, PromiseSettledResult<SagaRecord>>) => {
    const ended = [...new Map(items.map((item) => [item.sagaId, item.input])).values()].flatMap((input) => {
      const outcome = outcomes.get(input.orderId)
      if (outcome?.status !== 'fulfilled' || (outcome.value.status !== 'COMPLETED' && outcome.value.status !== 'COMPENSATED')) return []
      const event: OrderEvent = {
        type: outcome.value.status === 'COMPLETED' ? 'order.confirmed' : 'order.failed',
        orderId: input.orderId,
        saleId: input.saleId,
        at: new Date().toISOString(),
        reason: outcome.value.failure,
        ref: '',
        amountCents: input.amountCents,
      }
      return [{ event, recipient: input.shopper }]
    })
    if (ended.length === 0) return
    await jobs.enqueueNotifications(ended).catch((err) => logger.warn({ err, orders: ended.length }, 'could not enqueue notifications'))
    await deps.onSettled?.(ended.map((n) => n.event.orderId)).catch((err) => logger.warn({ err, orders: ended.length }, 'could not announce settled orders'))
  }
  const batcher = new SagaBatcher<CheckoutJob>(
    async (items) => {
      const outcomes = await runSagaBatch(checkoutWorkflow, deps.sagaStore, items, deps.checkoutDeps, observe)
      metrics.settleBatchSize.observe(items.length)
      await announce(items, outcomes)
      return outcomes
    },
    deps.settleBatch ?? { maxBatch: 1, lingerMs: 0 },
  )
  const checkout = new Worker<CheckoutJob>(
    QUEUE_NAMES.checkout,
    async (job) => {
      const input = CheckoutJob.parse(job.data)
      const record = await batcher.submit(input.orderId, input)
      // Waiting on the gateway; reconciliation resumes it. The order stays pending.
      if (record.status === 'SUSPENDED') return { status: 'pending', failure: record.failure }
      const status = record.status === 'COMPLETED' ? 'confirmed' : 'failed'
      if (job.attemptsMade === 0 || record.status !== 'RUNNING') {
        metrics.orders.inc({ sale: input.saleId, status })
        metrics.settleSeconds.observe((Date.now() - input.redeemedAt) / 1000)
      }
      if (record.status === 'COMPENSATED') metrics.holdsReleased.inc({ sale: input.saleId, reason: record.failure ?? 'failed' })
      return { status, failure: record.failure }
    },
    { ...common, concurrency: deps.checkoutConcurrency },
  )

  const outcomes = new Worker<RoomOutcomeJob>(
    QUEUE_NAMES.roomOutcomes,
    async (job) => deps.reporter.report(job.data.saleId, job.data.outcomes ?? (job.data.outcome ? [job.data.outcome] : [])),
    { ...common, concurrency: 16, settings: { backoffStrategy: roomOutcomeBackoff } },
  )

  const maintenance = new Worker(
    QUEUE_NAMES.maintenance,
    async (job) => {
      if (job.name === SWEEP_HOLDS_JOB) return { released: await sweepHolds({ ...deps, db: deps.checkoutDeps.db }) }
      const reconcile = ReconcileJobName.safeParse(job.name.replace(/^reconcile-/, ''))
      if (reconcile.success && deps.reconciler) return deps.reconciler.run(reconcile.data)
      throw new Error(`unknown maintenance job ${job.name}`)
    },
    { ...common, concurrency: 1 },
  )

  const notifications = new Worker<NotificationJob | NotificationBatchJob>(
    QUEUE_NAMES.notifications,
    async (job) => {
      const batch = NotificationBatchJob.safeParse(job.data)
      await deliverNotifications(batch.success ? batch.data.notifications : [NotificationJob.parse(job.data)], deps.notificationProviders ?? [])
    },
    { ...common, concurrency: 8 },
  )

  const workers = [checkout, outcomes, maintenance, notifications]
  for (const worker of workers) {
    worker.on('failed', (job, err) => logger.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'))
    worker.on('error', (err) => logger.error({ queue: worker.name, err }, 'worker error'))
  }
  let closing: Promise<void> | undefined
  return { workers, close: () => (closing ??= Promise.all(workers.map((w) => w.close())).then(() => {})) }
}
