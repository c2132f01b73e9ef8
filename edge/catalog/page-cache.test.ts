import { describe, expect, it } from 'vitest'
import {
  CoreUnavailableError,
  FAILURE_BACKOFF_MS,
  JOIN_WAIT_MS,
  NOT_FOUND_TTL_MS,
  PageCache,
  STALE_WAIT_MS,
  type CachedEntry,
} from './page-cache.ts'

const POLICY = { ttlMs: 10_000, swrMs: 20_000, sieMs: 100_000 }

/** A loader that answers `body` (stamped `now()`), counts its calls, and can fail or hang on demand. */
function loader(now: () => number) {
  const state = { calls: 0, body: 'v1', fail: false, hang: false, status: 200 }
  const load = async (): Promise<CachedEntry> => {
    state.calls++
    if (state.hang) await new Promise(() => {})
    if (state.fail) throw new CoreUnavailableError('core down')
    return { status: state.status, body: state.body, storedAt: now() }
  }
  return { state, load }
}

/** A cache that stored '/k' (body v1) at time 0, and the loader it refreshes through (stamping `now()`). */
async function cachedAtZero(now: () => number) {
  const cache = new PageCache(null)
  const { state, load } = loader(now)
  await cache.get('/k', POLICY, load, { now: 0 })
  return { cache, state, load }
}

const waiter = () => {
  const pending: Promise<unknown>[] = []
  return { pending, ctx: { waitUntil: (p: Promise<unknown>) => pending.push(p) } }
}

describe('when an entry is fresh', () => {
  it('should answer it without asking core', async () => {
    let now = 1_000
    const cache = new PageCache(null)
    const { state, load } = loader(() => now)

    expect(await cache.get('/k', POLICY, load, { now })).toMatchObject({ outcome: 'miss', entry: { body: 'v1' } })
    now += POLICY.ttlMs - 1
    state.body = 'v2'
    expect(await cache.get('/k', POLICY, load, { now })).toMatchObject({ outcome: 'hit', entry: { body: 'v1' } })
    expect(state.calls).toBe(1)
  })
})

describe('when many requests miss the same key at once', () => {
  it('should ask core once (single flight)', async () => {
    const cache = new PageCache(null)
    const { state, load } = loader(() => 0)

    const answers = await Promise.all(Array.from({ length: 200 }, () => cache.get('/cold', POLICY, load, { now: 0 })))

    expect(state.calls).toBe(1)
    expect(new Set(answers.map((a) => a.entry.body))).toEqual(new Set(['v1']))
  })
})

describe('when the refresh another request started never delivers', () => {
  it('should stop waiting after JOIN_WAIT_MS and ask core itself', async () => {
    const cache = new PageCache(null)
    let calls = 0
    const load = async (): Promise<CachedEntry> => {
      // The first refresh hangs, as a promise of a finished request can in workerd.
      if (++calls === 1) await new Promise(() => {})
      return { status: 200, body: 'own', storedAt: 0 }
    }
    void cache.get('/stuck', POLICY, load, { now: 0 })

    const follower = await Promise.race([
      cache.get('/stuck', POLICY, load, { now: 0 }),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), JOIN_WAIT_MS * 4)),
    ])

    expect(follower).toMatchObject({ outcome: 'miss', entry: { body: 'own' } })
    expect(calls).toBe(2)
  })
})

describe('when an entry is stale but within stale-while-revalidate', () => {
  it('should answer the stale entry at once and refresh it once in the background', async () => {
    let now = 0
    const { cache, state, load } = await cachedAtZero(() => now)
    now = POLICY.ttlMs + 5
    state.body = 'v2'
    const { pending, ctx } = waiter()

    const answers = await Promise.all(Array.from({ length: 50 }, () => cache.get('/k', POLICY, load, { now, ctx })))

    expect(answers.every((a) => a.outcome === 'stale' && a.entry.body === 'v1')).toBe(true)
    await Promise.all(pending)
    expect(state.calls).toBe(2)
    expect(await cache.get('/k', POLICY, load, { now })).toMatchObject({ outcome: 'hit', entry: { body: 'v2' } })
  })
})

describe('when core fails', () => {
  it('should answer the stale entry (stale-if-error) until ttl + sie, then fail', async () => {
    let now = 0
    const { cache, state, load } = await cachedAtZero(() => now)
    state.fail = true

    now = POLICY.ttlMs + POLICY.swrMs + 1
    expect(await cache.get('/k', POLICY, load, { now })).toMatchObject({
      outcome: 'stale-if-error',
      entry: { body: 'v1' },
    })
    now = POLICY.ttlMs + POLICY.sieMs + 1
    await expect(cache.get('/k', POLICY, load, { now })).rejects.toBeInstanceOf(CoreUnavailableError)
  })

  it('should not ask again for the same key within the failure backoff', async () => {
    let now = 0
    const { cache, state, load } = await cachedAtZero(() => now)
    state.fail = true
    now = POLICY.ttlMs + POLICY.swrMs + 1

    for (let i = 0; i < 20; i++) await cache.get('/k', POLICY, load, { now: now + i })
    expect(state.calls).toBe(2)
    await cache.get('/k', POLICY, load, { now: now + FAILURE_BACKOFF_MS })
    expect(state.calls).toBe(3)
  })

  it('should answer the stale entry when core hangs, after STALE_WAIT_MS at most', async () => {
    let now = 0
    const { cache, state, load } = await cachedAtZero(() => now)
    state.hang = true
    now = POLICY.ttlMs + POLICY.swrMs + 1

    const started = Date.now()
    const answer = await cache.get('/k', POLICY, load, { now })

    expect(answer).toMatchObject({ outcome: 'stale-if-error', entry: { body: 'v1' } })
    // Bounded below by the wait itself; above only by how busy the machine is (generous).
    expect(Date.now() - started).toBeGreaterThanOrEqual(STALE_WAIT_MS - 50)
  })

  it('should fail at once when nothing was ever cached', async () => {
    const cache = new PageCache(null)
    const { state, load } = loader(() => 0)
    state.fail = true
    await expect(cache.get('/never', POLICY, load, { now: 0 })).rejects.toBeInstanceOf(CoreUnavailableError)
  })
})

describe('when core answers 404', () => {
  it('should keep the 404 only briefly', async () => {
    let now = 0
    const cache = new PageCache(null)
    const { state, load } = loader(() => now)
    state.status = 404

    await cache.get('/missing', POLICY, load, { now })
    now = NOT_FOUND_TTL_MS - 1
    expect((await cache.get('/missing', POLICY, load, { now })).outcome).toBe('hit')
    now = NOT_FOUND_TTL_MS + 1
    state.status = 200
    expect(await cache.get('/missing', POLICY, load, { now })).toMatchObject({
      outcome: 'miss',
      entry: { status: 200 },
    })
  })
})

describe('when another instance of the same location starts', () => {
  it('should find what the first stored in the shared Cache API', async () => {
    const shared = await caches.open(`catalog-test-${crypto.randomUUID()}`)
    const first = new PageCache(shared)
    const second = new PageCache(shared)
    const { state, load } = loader(() => 0)

    await first.get('/shared', POLICY, load, { now: 0 })
    const answer = await second.get('/shared', POLICY, load, { now: 5 })

    expect(answer).toMatchObject({ outcome: 'hit', entry: { body: 'v1', status: 200, storedAt: 0 } })
    expect(state.calls).toBe(1)
  })
})
