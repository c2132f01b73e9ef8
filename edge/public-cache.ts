/**
 * Per edge instance (isolate): public answers reused while fresh. Readers of the same thing share one load, so a
 * public page costs O(edge instances) object requests however many people read it.
 */
type Entry<T> = { at: number; freshMs: number; value: Promise<T> }

export class InstanceCache<T> {
  private readonly entries = new Map<string, Entry<T>>()

  /** `max`: entries kept; the oldest goes first. */
  constructor(private readonly max: number) {}

  /**
   * The value under `key`, loaded with `load` unless a fresh one is here (or on its way). `freshMs(value)`: how
   * long a loaded value stays fresh (Infinity: until evicted). A failed load is forgotten at once.
   */
  async get(
    key: string,
    load: () => Promise<T>,
    freshMs: (value: T) => number,
    now = Date.now(),
  ): Promise<{ value: T; hit: boolean }> {
    const cached = this.entries.get(key)
    if (cached && now - cached.at < cached.freshMs) return { value: await cached.value, hit: true }
    const entry: Entry<T> = { at: now, freshMs: Number.POSITIVE_INFINITY, value: load() }
    this.entries.delete(key)
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(key, entry)
    try {
      const value = await entry.value
      entry.freshMs = freshMs(value)
      return { value, hit: false }
    } catch (err) {
      if (this.entries.get(key) === entry) this.entries.delete(key)
      throw err
    }
  }
}
