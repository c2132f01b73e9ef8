import type { Redis } from 'ioredis'

/**
 * "This order has settled", across processes: workers publish on a Redis channel, every API process
 * subscribes once and wakes the shoppers long-polling that order. Losing a message only costs a waiter
 * its timeout; the order itself is always read from Postgres.
 */
export class OrderSettledFeed {
  private readonly waiters = new Map<string, Set<() => void>>()
  private subscribed?: Promise<unknown>
  private closing?: Promise<void>

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly channel: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return
      for (const orderId of message.split(' ')) {
        const waiting = this.waiters.get(orderId)
        if (!waiting) continue
        this.waiters.delete(orderId)
        for (const wake of waiting) wake()
      }
    })
  }

  /** One message per call, however many orders (a settlement batch): order ids never contain a space. */
  async publish(orderIds: string | string[]): Promise<void> {
    const ids = typeof orderIds === 'string' ? [orderIds] : orderIds
    if (ids.length) await this.publisher.publish(this.channel, ids.join(' '))
  }

  /**
   * Registers interest in `orderId` now, so a message arriving while the caller reads the order is not
   * missed; `settled` resolves on the message or after `ms`. Call `cancel` when done.
   */
  async watch(orderId: string, ms: number): Promise<{ settled: Promise<void>; cancel: () => void }> {
    this.subscribed ??= this.subscriber.subscribe(this.channel)
    await this.subscribed
    let wake!: () => void
    const settled = new Promise<void>((resolve) => (wake = resolve))
    const set = this.waiters.get(orderId) ?? new Set()
    set.add(wake)
    this.waiters.set(orderId, set)
    const timer = setTimeout(wake, ms)
    const cancel = () => {
      clearTimeout(timer)
      set.delete(wake)
      if (set.size === 0 && this.waiters.get(orderId) === set) this.waiters.delete(orderId)
    }
    return { settled, cancel }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const set of this.waiters.values()) for (const wake of set) wake()
      this.waiters.clear()
      this.subscriber.disconnect()
    })()
    return this.closing
  }
}
