import type { CheckoutJob } from '../../contracts/index.ts'
import type { Logger } from '../logger.ts'
import type { BullQueueKeys, Scripts } from '../redis/scripts.ts'

/** BullMQ job name of a checkout (Jobs.enqueueCheckout uses the same). */
export const CHECKOUT_JOB_NAME = 'checkout'
/** Most jobs per addCheckoutJobs call (one Lua run blocks Redis for its length). */
const MAX_BATCH = 256

/**
 * The options Jobs.enqueueCheckout gives a checkout job, in the form BullMQ stores them (JSON, without
 * `jobId`, which addCheckoutJobs adds per job). add-checkout-jobs.test.ts checks both stay the same.
 */
export function checkoutJobOptsJson(attempts: number): string {
  return JSON.stringify({
    removeOnFail: { age: 24 * 3600 },
    removeOnComplete: { age: 3600, count: 100_000 },
    backoff: { delay: 250, type: 'exponential' },
    attempts,
  })
}

interface Waiter {
  orderId: string
  data: string
  resolve: () => void
  reject: (error: Error) => void
}

/**
 * Moves checkout jobs from each sale's outbox (the `checkouts` hash that redeemToken-8.lua writes in the
 * same atomic step as the hold) into BullMQ's checkout queue.
 *
 * - `forward`: the redeem path hands over the job of the hold it just made (it has the JSON at hand, so
 *   nothing is read back). Calls of one event-loop turn go to Redis together as one addCheckoutJobs
 *   script (one command for many jobs instead of one Queue.add each), then their outbox entries are
 *   deleted. The promise resolves once BullMQ has the job, so a 202 still means "the job is queued".
 * - `recover`: entries older than `staleMs` are jobs whose forward never completed (core died between
 *   the script and the forward, or Redis refused the add): any core process forwards them. Adding a job
 *   is idempotent (job id = order id), so forwarding an entry twice is harmless.
 */
export class CheckoutOutbox {
  private pending = new Map<string, Waiter[]>()
  private scheduled = false

  constructor(
    private readonly scripts: Scripts,
    private readonly queue: BullQueueKeys,
    private readonly optsJson: string,
    private readonly logger: Logger,
    private readonly staleMs = 10_000,
  ) {}

  /** Puts the job (data: its JSON, as in the outbox) into BullMQ; resolves when it is there. */
  forward(saleId: string, orderId: string, data: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let waiters = this.pending.get(saleId)
      if (!waiters) this.pending.set(saleId, (waiters = []))
      waiters.push({ orderId, data, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    const batches = this.pending
    this.pending = new Map()
    for (const [saleId, waiters] of batches) {
      for (let i = 0; i < waiters.length; i += MAX_BATCH) void this.send(saleId, waiters.slice(i, i + MAX_BATCH))
    }
  }

  private async send(saleId: string, waiters: Waiter[]): Promise<void> {
    try {
      await this.add(
        saleId,
        waiters.map((w) => [w.orderId, w.data]),
      )
    } catch (error) {
      for (const w of waiters) w.reject(error as Error)
      return
    }
    for (const w of waiters) w.resolve()
  }

  /** Adds the jobs, then clears their outbox entries (left for `recover` if that fails: a repeat add is a no-op). */
  private async add(saleId: string, jobs: Array<[string, string]>): Promise<void> {
    await this.scripts.addCheckoutJobs(this.queue, CHECKOUT_JOB_NAME, this.optsJson, Date.now(), jobs)
    this.scripts
      .dropFromCheckoutOutbox(
        saleId,
        jobs.map(([orderId]) => orderId),
      )
      .catch((err: Error) => {
        this.logger.warn(
          { err: err.message, saleId },
          'could not clear forwarded checkouts from the outbox (forwarded again later, harmlessly)',
        )
      })
  }

  /** Forwards outbox entries older than staleMs (by their redeemedAt). Returns how many were forwarded. */
  async recover(saleIds: string[], nowMs = Date.now()): Promise<number> {
    let forwarded = 0
    for (const saleId of saleIds) {
      let cursor = '0'
      do {
        const page = await this.scripts.checkoutOutbox(saleId, cursor)
        cursor = page.cursor
        const stale = page.entries.filter(([, data]) => nowMs - redeemedAt(data) >= this.staleMs)
        for (let i = 0; i < stale.length; i += MAX_BATCH) await this.add(saleId, stale.slice(i, i + MAX_BATCH))
        forwarded += stale.length
      } while (cursor !== '0')
    }
    if (forwarded) this.logger.warn({ forwarded }, 'forwarded checkout jobs left in the outbox')
    return forwarded
  }
}

function redeemedAt(data: string): number {
  try {
    const at = (JSON.parse(data) as Partial<CheckoutJob>).redeemedAt
    return typeof at === 'number' ? at : 0
  } catch {
    return 0
  }
}
