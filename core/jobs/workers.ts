import { Worker, type ConnectionOptions } from 'bullmq'
import { CheckoutJob } from '../../contracts/index.ts'
import type { CheckoutDeps } from '../checkout/deps.ts'
import { checkoutWorkflow } from '../checkout/workflows/checkout.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Scripts } from '../redis/scripts.ts'
import type { RoomReporter } from '../room/room-reporter.ts'
import { runSaga, type SagaStore } from '../saga/saga.ts'
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
  /** Called once a checkout saga has reached its final state. */
  onSettled?: (orderId: string) => Promise<void>
}

const SWEEP_BATCH = 500

/** Releases every expired hold of every sale and hands the tokens back to the waiting room. */
export async function sweepHolds(deps: Pick<WorkerDeps, 'sales' | 'scripts' | 'jobs' | 'metrics' | 'logger'>, nowMs = Date.now()): Promise<number> {
  let total = 0
  for (const saleId of await deps.sales.ids()) {
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
  const common = { connection, prefix: jobs.prefix }

  const checkout = new Worker<CheckoutJob>(
    QUEUE_NAMES.checkout,
    async (job) => {
      const input = CheckoutJob.parse(job.data)
      const record = await runSaga(checkoutWorkflow, deps.sagaStore, input.orderId, input, deps.checkoutDeps, (step, outcome) =>
        metrics.sagaSteps.inc({ step, outcome }),
      )
      const status = record.status === 'COMPLETED' ? 'confirmed' : 'failed'
      if (job.attemptsMade === 0 || record.status !== 'RUNNING') {
        metrics.orders.inc({ sale: input.saleId, status })
        metrics.settleSeconds.observe((Date.now() - input.redeemedAt) / 1000)
      }
      if (record.status === 'COMPENSATED') metrics.holdsReleased.inc({ sale: input.saleId, reason: record.failure ?? 'failed' })
      await deps.onSettled?.(input.orderId).catch((err) => logger.warn({ err, orderId: input.orderId }, 'could not announce settled order'))
      return { status, failure: record.failure }
    },
    { ...common, concurrency: deps.checkoutConcurrency },
  )

  const outcomes = new Worker<RoomOutcomeJob>(
    QUEUE_NAMES.roomOutcomes,
    async (job) => deps.reporter.report(job.data.saleId, [job.data.outcome]),
    { ...common, concurrency: 16, settings: { backoffStrategy: roomOutcomeBackoff } },
  )

  const maintenance = new Worker(
    QUEUE_NAMES.maintenance,
    async (job) => {
      if (job.name === SWEEP_HOLDS_JOB) return { released: await sweepHolds(deps) }
      throw new Error(`unknown maintenance job ${job.name}`)
    },
    { ...common, concurrency: 1 },
  )

  const workers = [checkout, outcomes, maintenance]
  for (const worker of workers) {
    worker.on('failed', (job, err) => logger.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'))
    worker.on('error', (err) => logger.error({ queue: worker.name, err }, 'worker error'))
  }
  let closing: Promise<void> | undefined
  return { workers, close: () => (closing ??= Promise.all(workers.map((w) => w.close())).then(() => {})) }
}
