/**
 * The edge's cache for catalog data, with the freshness rules done here because the Workers Cache API does not
 * honour `stale-while-revalidate` or `stale-if-error` itself:
 *
 * - fresh (age < ttl): answered from cache;
 * - stale (age < ttl + swr): answered from cache, and refreshed in the background (`ctx.waitUntil`);
 * - older, or core failing: core is asked; if it fails (or is slow, STALE_WAIT_MS) and an entry younger than
 *   ttl + sie exists, that entry is answered (`stale-if-error`); otherwise the error goes to the caller;
 * - one refresh per key at a time per instance (single flight): a thousand requests for a cold page make one
 *   core call; after a failure, the key is not retried for FAILURE_BACKOFF_MS;
 * - keys carry their tag's version (versions.ts), so a catalog change reaches every instance by a new key.
 *
 * Two levels: this isolate's memory (bounded), then `caches.default` (shared by the instances of a location).
 * Only 200 and 404 answers are cached; 404s briefly.
 */
export interface CachePolicy {
  /** Answered as fresh for this long after it was stored. */
  ttlMs: number
  /** Then answered while a background refresh runs, for this much longer. */
  swrMs: number
  /** Answered when core fails, until this long after it was stored. */
  sieMs: number
}

export interface CachedEntry {
  status: number
  body: string
  storedAt: number
  /** `body` parsed, kept with the entry in memory so a hit parses nothing (never mutated by readers). */
  parsed?: unknown
}

export type CacheOutcome = 'hit' | 'stale' | 'miss' | 'stale-if-error'

/** How long a request with a stale entry in hand waits for core before answering the stale entry. */
export const STALE_WAIT_MS = 1_500
/** After core failed for a key, requests answer from the stale entry without asking again for this long. */
export const FAILURE_BACKOFF_MS = 1_000
/** 404 answers are kept at most this long (a product created later shows up soon). */
export const NOT_FOUND_TTL_MS = 5_000
const MEMORY_BYTES = 16 * 1024 * 1024
const CACHE_ORIGIN = 'https://catalog-cache.floodgate.internal'

/** Core did not give a usable answer (unreachable, timed out, 5xx). */
export class CoreUnavailableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CoreUnavailableError'
  }
}

export interface Waiter {
  waitUntil(promise: Promise<unknown>): void
}

/** How long a request waits for the refresh another request started before it asks core itself. */
export const JOIN_WAIT_MS = 2_500

export type Settled<T> = { ok: true; value: T } | { ok: false; reason: 'failed' | 'slow' }

/**
 * `promise`'s outcome, or `slow` after `ms`. For waiting on work another request started: in workerd, a promise
 * made in one request may never deliver to another once its own request is done (the runtime cancels such
 * continuations and the waiting request hangs), so no request waits on another's promise without a limit.
 */
export function within<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, reason: 'slow' }), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve({ ok: true, value })
      },
      () => {
        clearTimeout(timer)
        resolve({ ok: false, reason: 'failed' })
      },
    )
  })
}

export class PageCache {
  private readonly memory = new Map<string, CachedEntry>()
  private memoryBytes = 0
  private readonly inflight = new Map<string, Promise<CachedEntry>>()
  private readonly failedAt = new Map<string, number>()

  /** `cache`: the shared Cache API store (`caches.default` in production), or null for memory only. */
  constructor(private readonly cache: Cache | null) {}

  private remember(key: string, entry: CachedEntry): void {
    const old = this.memory.get(key)
    if (old) {
      this.memoryBytes -= old.body.length
      this.memory.delete(key)
    }
    this.memory.set(key, entry)
    this.memoryBytes += entry.body.length
    for (const [k, e] of this.memory) {
      if (this.memoryBytes <= MEMORY_BYTES) break
      this.memory.delete(k)
      this.memoryBytes -= e.body.length
    }
  }

  private async lookup(key: string): Promise<CachedEntry | null> {
    const inMemory = this.memory.get(key)
    if (inMemory) return inMemory
    if (!this.cache) return null
    const hit = await this.cache.match(`${CACHE_ORIGIN}${key}`)
    if (!hit) return null
    const entry = {
      status: Number(hit.headers.get('x-fg-status')),
      body: await hit.text(),
      storedAt: Number(hit.headers.get('x-fg-stored-at')),
    }
    this.remember(key, entry)
    return entry
  }

  private async store(key: string, entry: CachedEntry, policy: CachePolicy): Promise<void> {
    this.remember(key, entry)
    if (!this.cache) return
    const keepSeconds = Math.ceil((policy.ttlMs + Math.max(policy.swrMs, policy.sieMs)) / 1000)
    await this.cache.put(
      `${CACHE_ORIGIN}${key}`,
      new Response(entry.body, {
        headers: {
          'cache-control': `public, max-age=${keepSeconds}`,
          'x-fg-status': String(entry.status),
          'x-fg-stored-at': String(entry.storedAt),
        },
      }),
    )
  }

  /** Asks core for `key` and stores the answer before resolving. */
  private async fetchAndStore(key: string, policy: CachePolicy, load: () => Promise<CachedEntry>, now: number) {
    try {
      const entry = await load()
      this.failedAt.delete(key)
      const notFound = { ...policy, ttlMs: Math.min(policy.ttlMs, NOT_FOUND_TTL_MS), swrMs: 0 }
      await this.store(key, entry, entry.status === 404 ? notFound : policy)
      return entry
    } catch (error) {
      this.failedAt.set(key, now)
      throw error
    }
  }

  /** One refresh of `key` at a time per instance; `owner`: this call started it. */
  private refresh(
    key: string,
    policy: CachePolicy,
    load: () => Promise<CachedEntry>,
    now: number,
  ): { promise: Promise<CachedEntry>; owner: boolean } {
    const running = this.inflight.get(key)
    if (running) return { promise: running, owner: false }
    const promise = this.fetchAndStore(key, policy, load, now).finally(() => this.inflight.delete(key))
    this.inflight.set(key, promise)
    return { promise, owner: true }
  }

  /**
   * The entry for `key` by the rules above. `load` asks core and must throw CoreUnavailableError (or anything)
   * when core gives no usable answer. Throws only when there is nothing to answer.
   */
  async get(
    key: string,
    policy: CachePolicy,
    load: () => Promise<CachedEntry>,
    { now = Date.now(), ctx }: { now?: number; ctx?: Waiter } = {},
  ): Promise<{ entry: CachedEntry; outcome: CacheOutcome }> {
    const cached = await this.lookup(key)
    const age = cached ? now - cached.storedAt : Number.POSITIVE_INFINITY
    const ttl = cached?.status === 404 ? Math.min(policy.ttlMs, NOT_FOUND_TTL_MS) : policy.ttlMs
    const swr = cached?.status === 404 ? 0 : policy.swrMs
    if (cached && age < ttl) return { entry: cached, outcome: 'hit' }
    const background = (p: Promise<unknown>) => {
      const quiet = p.catch(() => undefined)
      if (ctx) ctx.waitUntil(quiet)
    }
    if (cached && age < ttl + swr) {
      if (!this.recentlyFailed(key, now)) {
        const { promise, owner } = this.refresh(key, policy, load, now)
        if (owner) background(promise)
      }
      return { entry: cached, outcome: 'stale' }
    }
    const usable = cached && age < ttl + policy.sieMs ? cached : null
    if (usable && this.recentlyFailed(key, now)) return { entry: usable, outcome: 'stale-if-error' }
    const { promise: refreshing, owner } = this.refresh(key, policy, load, now)
    if (!usable) {
      if (owner) return { entry: await refreshing, outcome: 'miss' }
      const joined = await within(refreshing, JOIN_WAIT_MS)
      if (joined.ok) return { entry: joined.value, outcome: 'miss' }
      if (joined.reason === 'failed') throw new CoreUnavailableError(`core gave no answer for ${key}`)
      // Slow, or never delivered to this request: ask for itself.
      return { entry: await this.fetchAndStore(key, policy, load, now), outcome: 'miss' }
    }
    if (owner) background(refreshing)
    const first = await within(refreshing, STALE_WAIT_MS)
    if (!first.ok) return { entry: usable, outcome: 'stale-if-error' }
    return { entry: first.value, outcome: 'miss' }
  }

  private recentlyFailed(key: string, now: number): boolean {
    const at = this.failedAt.get(key)
    return at !== undefined && now - at < FAILURE_BACKOFF_MS
  }

  /** Drops this isolate's memory level (tests). */
  forgetMemory(): void {
    this.memory.clear()
    this.memoryBytes = 0
  }
}
