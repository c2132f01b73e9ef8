/**
 * A Map that keeps at most `max` entries, forgetting the oldest-inserted first: per-instance memos of work
 * that is pure in its key (a session's shopper id, a ticket's verified payload), so a shopper polling every
 * second costs one hash or HMAC per edge instance, not one per poll.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>()

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.entries.get(key)
  }

  set(key: K, value: V): void {
    if (!this.entries.has(key) && this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(key, value)
  }

  get size(): number {
    return this.entries.size
  }
}
