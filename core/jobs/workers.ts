import { Worker, type ConnectionOptions } from 'bullmq'
import type pg from 'pg'
import {
  CheckoutJob,
  NotificationBatchJob,
  NotificationJob,
  ReconcileJobName,
  type OrderEvent,
} from '../../contracts/index.ts'
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
import { SagaSuperseded, type SagaRecord, type SagaStore } from '../saga/saga.ts'
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
  /** The hold sweep (core/sale/hold-sweep.ts), run by the maintenance queue's repeatable job. */
  sweepHolds: () => Promise<number>
}

/** The BullMQ workers of core: checkout sagas, room notifications, and the hold sweep. */
export function startWorkers(deps: WorkerDeps): { workers: Worker[]; close: () => Promise<void> } {
  const { connection, jobs, metrics, logger } = deps
  const common = {
    connection,
    prefix: jobs.prefix,
    ...(deps.jobLockMs ? { lockDuration: deps.jobLockMs, stalledInterval: deps.jobLockMs } : {}),
  }

  const observe = (step: string, outcome: 'completed' | 'failed' | 'compensated') =>
    metrics.sagaSteps.inc({ step, outcome })
  /** After a batch: one notification job and one "settled" message for all of its sagas that ended. */
  const announce = async (items: SagaItem<CheckoutJob>[], outcomes: Map<string, PromiseSettledResult<SagaRecord>>) => {
    const ended = [...new Map(items.map((item) => [item.sagaId, item.input])).values()].flatMap((input) => {
      const outcome = outcomes.get(input.orderId)
      if (
        outcome?.status !== 'fulfilled' ||
        (outcome.value.status !== 'COMPLETED' && outcome.value.status !== 'COMPENSATED')
      )
        return []
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
    await jobs
      .enqueueNotifications(ended)
      .catch((err) => logger.warn({ err, orders: ended.length }, 'could not enqueue notifications'))
    await deps
      .onSettled?.(ended.map((n) => n.event.orderId))
      .catch((err) => logger.warn({ err, orders: ended.length }, 'could not announce settled orders'))
  }
  const batcher = new SagaBatcher<CheckoutJob>(async (items) => {
    const outcomes = await runSagaBatch(checkoutWorkflow, deps.sagaStore, items, deps.checkoutDeps, observe)
    metrics.settleBatchSize.observe(items.length)
    await announce(items, outcomes)
    return outcomes
  }, deps.settleBatch ?? { maxBatch: 1, lingerMs: 0 })
  const checkout = new Worker<CheckoutJob>(
    QUEUE_NAMES.checkout,
    async (job) => {
      const input = CheckoutJob.parse(job.data)
      const record = await batcher.submit(input.orderId, input).catch((error: unknown) => {
        if (error instanceof SagaSuperseded) return null
        throw error
      })
      // Another run of this saga (this job's re-run after a stall, or its resume) moved it on: that run settles it.
      if (!record) {
        logger.info({ orderId: input.orderId, jobId: job.id }, 'checkout run overtaken by another run; it stops here')
        return { status: 'superseded', failure: null }
      }
      // Waiting on the gateway; reconciliation resumes it. The order stays pending.
      if (record.status === 'SUSPENDED') return { status: 'pending', failure: record.failure }
      const status = record.status === 'COMPLETED' ? 'confirmed' : 'failed'
      if (job.attemptsMade === 0 || record.status !== 'RUNNING') {
        metrics.orders.inc({ sale: input.saleId, status })
        metrics.settleSeconds.observe((Date.now() - input.redeemedAt) / 1000)
      }
      if (record.status === 'COMPENSATED')
        metrics.holdsReleased.inc({ sale: input.saleId, reason: record.failure ?? 'failed' })
      return { status, failure: record.failure }
    },
    { ...common, concurrency: deps.checkoutConcurrency },
  )

  const outcomes = new Worker<RoomOutcomeJob>(
    QUEUE_NAMES.roomOutcomes,
    async (job) =>
      deps.reporter.report(job.data.saleId, job.data.outcomes ?? (job.data.outcome ? [job.data.outcome] : [])),
    { ...common, concurrency: 16, settings: { backoffStrategy: roomOutcomeBackoff } },
  )

  const maintenance = new Worker(
    QUEUE_NAMES.maintenance,
    async (job) => {
      if (job.name === SWEEP_HOLDS_JOB) return { released: await deps.sweepHolds() }
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
      await deliverNotifications(
        batch.success ? batch.data.notifications : [NotificationJob.parse(job.data)],
        deps.notificationProviders ?? [],
      )
    },
    { ...common, concurrency: 8 },
  )

  const workers = [checkout, outcomes, maintenance, notifications]
  for (const worker of workers) {
    worker.on('failed', (job, err) =>
      logger.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'),
    )
    worker.on('error', (err) => logger.error({ queue: worker.name, err }, 'worker error'))
  }
  let closing: Promise<void> | undefined
  return { workers, close: () => (closing ??= Promise.all(workers.map((w) => w.close())).then(() => {})) }
}
