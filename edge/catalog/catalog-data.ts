/**
 * Catalog data at the edge: core's catalog and search answers through the page cache, under versioned keys.
 * One `EdgeCatalog` per isolate (an edge instance); tests make several to play several instances.
 */
import { HTTPException } from 'hono/http-exception'
import {
  CATALOG_CACHE_POLICIES,
  CATALOG_TAGS,
  CatalogChanges,
  type AvailabilityItem,
  type DropSummary,
  type DropsResponse,
} from '../../contracts/index.ts'
import { callCore, discard } from '../core.ts'
import type { Env } from '../env.ts'
import {
  CoreUnavailableError,
  PageCache,
  type CacheOutcome,
  type CachePolicy,
  type CachedEntry,
  type Waiter,
} from './page-cache.ts'
import { CatalogVersions } from './versions.ts'

/** Freshness per kind of answer (shared with the benchmark that checks core calls per TTL). */
export const POLICIES = CATALOG_CACHE_POLICIES satisfies Record<string, CachePolicy>
export type DataKind = keyof typeof POLICIES

export interface Fetched<T> {
  status: number
  /** Shared with the cache entry: read it, never change it. */
  data: T
  /** The JSON text of `data`, as core sent it. */
  body: string
  outcome: CacheOutcome
}

/** Asks core; network failures and 5xx become CoreUnavailableError; other answers are returned as they are. */
export type CoreFetch = (path: string) => Promise<Response>

export function coreFetch(env: Env): CoreFetch {
  return async (path) => {
    try {
      return await callCore(env, path, { headers: { accept: 'application/json' } })
    } catch (error) {
      if (error instanceof HTTPException) throw new CoreUnavailableError(error.message)
      throw error
    }
  }
}

/** A 4xx from core for a request the edge had already validated: passed on as it is. */
export class CoreRefusedError extends Error {
  constructor(readonly response: { status: number; body: string }) {
    super(`core answered ${response.status}`)
    this.name = 'CoreRefusedError'
  }
}

const VERSIONS_KEY = 'https://catalog-cache.floodgate.internal/__versions'

export class EdgeCatalog {
  readonly pages: PageCache
  readonly versions: CatalogVersions

  constructor(
    private readonly fetch: CoreFetch,
    cache: Cache | null,
    private readonly clock: () => number = () => Date.now(),
  ) {
    this.pages = new PageCache(cache)
    this.versions = new CatalogVersions(
      async (after) => {
        const res = await this.fetch(`/v1/catalog/changes?after=${after}`)
        if (res.status !== 200) {
          await discard(res)
          throw new CoreUnavailableError(`changes: ${res.status}`)
        }
        return CatalogChanges.parse(await res.json())
      },
      undefined,
      cache && {
        load: async () => {
          const hit = await cache.match(VERSIONS_KEY)
          return hit ? CatalogChanges.parse(await hit.json()) : null
        },
        save: (snapshot) =>
          cache.put(
            VERSIONS_KEY,
            new Response(JSON.stringify(snapshot), { headers: { 'cache-control': 'public, max-age=86400' } }),
          ),
      },
    )
  }

  private async load(path: string): Promise<CachedEntry> {
    const res = await this.fetch(path)
    const body = await res.text()
    if (res.status === 200 || res.status === 404) return { status: res.status, body, storedAt: this.clock() }
    if (res.status >= 500) throw new CoreUnavailableError(`core answered ${res.status} for ${path}`)
    throw new CoreRefusedError({ status: res.status, body })
  }

  /**
   * Core's answer for `path` (a GET under /v1, query already canonical), cached by `kind`'s policy under the
   * current version of `tag` (none: TTL only).
   */
  async get<T>(kind: DataKind, path: string, tag: string | null, ctx?: Waiter): Promise<Fetched<T>> {
    const now = this.clock()
    let key = `/${kind}${path}`
    if (tag !== null) {
      await this.versions.fresh(now, (p) => ctx?.waitUntil(p))
      key = `/${kind}/${this.versions.version(tag)}${path}`
    }
    const { entry, outcome } = await this.pages.get(key, POLICIES[kind], () => this.load(path), { now, ctx })
    entry.parsed ??= JSON.parse(entry.body)
    return { status: entry.status, data: entry.parsed as T, body: entry.body, outcome }
  }

  /** The scheduled and live drops; none known when core cannot be asked and nothing is cached. */
  async drops(ctx?: Waiter): Promise<DropSummary[]> {
    try {
      return (await this.get<DropsResponse>('drops', '/v1/catalog/drops', null, ctx)).data.drops
    } catch {
      return []
    }
  }

  /** Everyday stock from core (its Redis copy), cached about a second; `unknown` when core cannot say. */
  async everydayStock(skus: string[], ctx?: Waiter): Promise<AvailabilityItem[]> {
    if (!skus.length) return []
    const sorted = [...new Set(skus)].sort()
    try {
      const { data } = await this.get<{ items: AvailabilityItem[] }>(
        'availability',
        `/v1/availability?skus=${sorted.map(encodeURIComponent).join(',')}`,
        null,
        ctx,
      )
      const bySku = new Map(data.items.map((i) => [i.sku, i]))
      return skus.map((sku) => bySku.get(sku) ?? { sku, state: 'unknown', available: null })
    } catch {
      return skus.map((sku) => ({ sku, state: 'unknown', available: null }))
    }
  }
}

export { CATALOG_TAGS }

let instance: { coreUrl: string; catalog: EdgeCatalog } | undefined

/** This isolate's EdgeCatalog (one per edge instance). */
export function edgeCatalog(env: Env): EdgeCatalog {
  if (!instance || instance.coreUrl !== env.CORE_URL) {
    instance = {
      coreUrl: env.CORE_URL,
      catalog: new EdgeCatalog(coreFetch(env), typeof caches === 'undefined' ? null : caches.default),
    }
  }
  return instance.catalog
}
