/**
 * Keeps the search index in step with the catalog. Every catalog write queues its products in the catalog's
 * outbox in the same transaction; this BullMQ job drains it in bulk (up to DRAIN_BATCH documents per engine
 * call), at each write's kick and on a timer (so a kick lost in a crash only waits for the next tick).
 * Documents carry the product's version, so a late or repeated write never replaces a newer one.
 */
import { Queue, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import type { ReindexReport } from '../../contracts/index.ts'
import type { Catalog } from '../catalog/catalog.ts'
import type { Logger } from '../logger.ts'
import type { SearchEngine } from './engine.ts'
import type { SearchMetrics } from './search-metrics.ts'

export const SEARCH_SYNC_QUEUE = 'search-sync'
const DRAIN_BATCH = 500
/** Kicks within one such window share a job. */
const KICK_WINDOW_MS = 100

export interface SearchSyncOptions {
  redis: Redis
  /** BullMQ key prefix (core's `<REDIS_PREFIX>:bull`). */
  prefix: string
  catalog: Catalog
  engine: SearchEngine
  metrics: SearchMetrics
  logger: Logger
  intervalMs: number
}

export class SearchSync {
  readonly queue: Queue
  private worker?: Worker
  private workerConnection?: Redis
  private closing?: Promise<void>
  private onReady?: () => void

  constructor(private readonly options: SearchSyncOptions) {
    this.queue = new Queue(SEARCH_SYNC_QUEUE, { connection: options.redis, prefix: options.prefix })
  }

  /** Asks for a drain soon (called after each catalog commit that queued products). */
  async kick(): Promise<void> {
    await this.queue.add(
      'drain',
      {},
      { jobId: `drain.${Math.floor(Date.now() / KICK_WINDOW_MS)}`, removeOnComplete: true, removeOnFail: 100 },
    )
  }

  /** Starts the worker (one drain at a time per process; rows are claimed with SKIP LOCKED across processes). */
  async start(): Promise<void> {
    const { redis, prefix, intervalMs, logger } = this.options
    const schedule = () =>
      this.queue.upsertJobScheduler(
        'search-drain',
        { every: intervalMs },
        { name: 'drain', opts: { removeOnComplete: true, removeOnFail: 100 } },
      )
    await schedule()
    // A Redis that comes back empty lost the schedule with it.
    this.onReady = () =>
      void schedule().catch((err) => logger.warn({ err: err.message }, 'could not reschedule search sync'))
    redis.on('ready', this.onReady)
    this.workerConnection = redis.duplicate({ maxRetriesPerRequest: null })
    this.worker = new Worker(SEARCH_SYNC_QUEUE, () => this.drain(), {
      connection: this.workerConnection,
      prefix,
      concurrency: 1,
    })
    this.worker.on('failed', (job, err) =>
      logger.warn({ job: job?.id, err: err.message }, 'search sync failed; the outbox keeps the changes'),
    )
  }

  /**
   * Drains now and returns once the outbox is empty, rows another drainer holds included (the admin route:
   * tests and benches use it as a barrier). Gives up after `timeoutMs`.
   */
  async drainAll(timeoutMs = 30_000): Promise<{ taken: number; applied: number; stale: number }> {
    const deadline = Date.now() + timeoutMs
    const total = { taken: 0, applied: 0, stale: 0 }
    for (;;) {
      const round = await this.drain()
      total.taken += round.taken
      total.applied += round.applied
      total.stale += round.stale
      if ((await this.options.catalog.store.outboxStatus()).pending === 0) return total
      if (Date.now() > deadline) throw new Error('search outbox did not empty in time')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Writes every queued product's document, batch after batch, until the outbox is empty. */
  async drain(): Promise<{ taken: number; applied: number; stale: number }> {
    const { catalog, engine, metrics } = this.options
    const total = { taken: 0, applied: 0, stale: 0 }
    for (;;) {
      let result = { applied: 0, stale: 0 }
      const { taken, queuedAt } = await catalog.store.drainOutbox(DRAIN_BATCH, async (docs) => {
        result = await engine.upsert(docs)
      })
      const now = Date.now()
      for (const at of queuedAt) metrics.indexLagSeconds.observe(Math.max(0, now - at.getTime()) / 1000)
      metrics.synced.inc({ outcome: 'applied' }, result.applied)
      metrics.synced.inc({ outcome: 'stale' }, result.stale)
      total.taken += taken
      total.applied += result.applied
      total.stale += result.stale
      if (taken < DRAIN_BATCH) return total
    }
  }

  /**
   * A full reindex: a new index from every product, switched to at once; then the products changed while it
   * ran are written again (versions make that safe), and the catalog's Redis copies are resynced.
   */
  async reindex(): Promise<ReindexReport> {
    const { catalog, engine } = this.options
    const started = performance.now()
    const mark = await catalog.store.now()
    const { index, documents } = await engine.reindex(catalog.store.allDocuments(1000))
    const changed = await catalog.store.changedSince(mark)
    for (let i = 0; i < changed.length; i += 1000)
      await engine.upsert(await catalog.store.documents(changed.slice(i, i + 1000)))
    await catalog.resync()
    return {
      engine: engine.name,
      index,
      documents,
      replayed: changed.length,
      ms: Math.round(performance.now() - started),
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.onReady) this.options.redis.off('ready', this.onReady)
      await this.worker?.close()
      this.workerConnection?.disconnect()
      await this.queue.close()
    })()
    return this.closing
  }
}
