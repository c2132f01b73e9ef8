import type { CatalogChanges } from '../../contracts/index.ts'
import { within } from './page-cache.ts'

/** How long an edge instance trusts its tag versions before asking core what changed. */
export const VERSIONS_TTL_MS = 1_000
/** Longest a request waits for that refresh before going on with the versions it has. */
export const VERSIONS_WAIT_MS = 250

/** Longest a request waits for the first versions another request is fetching. */
const FIRST_WAIT_MS = 2_500

/**
 * This edge instance's view of which catalog cache tags changed (core's change feed, `GET /v1/catalog/changes`).
 * Cached answers are stored under their tag's version, so a change "purges" them by changing the key: an
 * operator's price change is on every instance's next request after at most VERSIONS_TTL_MS, without a purge
 * API (Cloudflare's purge by tag exists only on the zone cache, not in `caches.default` or `wrangler dev`).
 *
 * Refreshes are single-flight: however many requests arrive, an instance asks core at most once a second. If
 * core does not answer, the instance keeps its versions (and its cached pages) and tries again a second later.
 */
export class CatalogVersions {
  private epoch: string | null = null
  private seq = 0
  private floor = 0
  private readonly tags = new Map<string, number>()
  private fetchedAt = Number.NEGATIVE_INFINITY
  private inflight: Promise<void> | null = null

  constructor(
    private readonly fetchChanges: (after: number) => Promise<CatalogChanges>,
    private readonly ttlMs = VERSIONS_TTL_MS,
    /**
     * Where an instance keeps its versions for the next one (`caches.default`): a new isolate that cannot reach
     * core starts from them, so it still finds the pages earlier isolates cached.
     */
    private readonly saved: {
      load(): Promise<CatalogChanges | null>
      save(snapshot: CatalogChanges): Promise<void>
    } | null = null,
  ) {}

  /** Everything this instance knows, as one answer of the feed (what `saved` keeps). */
  snapshot(): CatalogChanges {
    return { epoch: this.epoch ?? 'none', seq: this.seq, floor: this.floor, tags: Object.fromEntries(this.tags) }
  }

  /** The version of a tag (a cache key component); `epoch` changes when core's feed was lost and rebuilt. */
  version(tag: string): string {
    return `${this.epoch ?? 'none'}.${Math.max(this.tags.get(tag) ?? 0, this.floor)}`
  }

  /**
   * Versions at least as fresh as VERSIONS_TTL_MS allows. The first call of an instance waits for core (up to
   * its timeout); later ones wait at most VERSIONS_WAIT_MS and then use what they have.
   */
  async fresh(now: number, wait: (p: Promise<void>) => void = () => {}): Promise<this> {
    if (now - this.fetchedAt < this.ttlMs) return this
    let owner = false
    if (!this.inflight) {
      owner = true
      this.fetchedAt = now
      this.inflight = this.fetchChanges(this.seq)
        .then(async (changes) => {
          this.apply(changes)
          await this.saved?.save(this.snapshot()).catch(() => undefined)
        })
        .catch(async () => {
          if (this.epoch !== null || !this.saved) return
          const snapshot = await this.saved.load().catch(() => null)
          if (snapshot && this.epoch === null) this.apply(snapshot)
        })
        .finally(() => (this.inflight = null))
      wait(this.inflight)
    }
    // Never an unbounded wait on a promise another request made (see `within`).
    if (this.epoch === null) await (owner ? this.inflight : within(this.inflight!, FIRST_WAIT_MS))
    else await within(this.inflight!, VERSIONS_WAIT_MS)
    return this
  }

  apply(changes: CatalogChanges): void {
    if (this.epoch !== null && changes.epoch !== this.epoch) {
      // Core's feed was lost: nothing this instance knew can be trusted. Everything is as new as its seq.
      this.tags.clear()
      this.floor = changes.seq
    } else {
      this.floor = Math.max(this.floor, changes.floor)
      for (const [tag, version] of Object.entries(changes.tags))
        this.tags.set(tag, Math.max(this.tags.get(tag) ?? 0, version))
    }
    this.epoch = changes.epoch
    this.seq = changes.seq
    // Tags at or below the floor say nothing the floor does not.
    for (const [tag, version] of this.tags) if (version <= this.floor) this.tags.delete(tag)
  }
}
