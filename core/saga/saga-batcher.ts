import type { SagaItem } from './saga-batch.ts'
import type { SagaRecord } from './saga.ts'

export interface SagaBatcherOptions {
  /** A batch starts as soon as it has this many sagas. */
  maxBatch: number
  /** ... or this long after its first saga arrived. */
  lingerMs: number
}

interface Waiting<I> extends SagaItem<I> {
  resolve(record: SagaRecord): void
  reject(reason: unknown): void
}

/**
 * Gathers sagas submitted one at a time (one per BullMQ job) into batches for `runSagaBatch`, and gives each
 * submitter its own saga's outcome. Batches run side by side; the job runner's concurrency bounds how many
 * sagas are in flight. The jobs stay one per saga, so a crash, a retry or a stall is still per saga.
 */
export class SagaBatcher<I> {
  private waiting: Waiting<I>[] = []
  private timer?: ReturnType<typeof setTimeout>
  private readonly running = new Set<Promise<void>>()

  constructor(
    private readonly run: (items: SagaItem<I>[]) => Promise<Map<string, PromiseSettledResult<SagaRecord>>>,
    private readonly options: SagaBatcherOptions,
  ) {}

  submit(sagaId: string, input: I): Promise<SagaRecord> {
    return new Promise<SagaRecord>((resolve, reject) => {
      this.waiting.push({ sagaId, input, resolve, reject })
      if (this.waiting.length >= this.options.maxBatch) this.flush()
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs)
    })
  }

  /** Starts a batch with whatever is waiting. */
  flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.waiting
    this.waiting = []
    if (batch.length === 0) return
    const running = this.runBatch(batch).finally(() => this.running.delete(running))
    this.running.add(running)
  }

  /** Waits for every batch started so far. */
  async drain(): Promise<void> {
    this.flush()
    while (this.running.size) await Promise.all(this.running)
  }

  private async runBatch(batch: Waiting<I>[]): Promise<void> {
    try {
      const outcomes = await this.run(batch)
      for (const waiter of batch) {
        const outcome = outcomes.get(waiter.sagaId)
        if (!outcome) waiter.reject(new Error(`saga ${waiter.sagaId} has no outcome in its batch`))
        else if (outcome.status === 'fulfilled') waiter.resolve(outcome.value)
        else waiter.reject(outcome.reason)
      }
    } catch (error) {
      for (const waiter of batch) waiter.reject(error)
    }
  }
}
