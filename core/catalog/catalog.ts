import type { Redis } from 'ioredis'
import type pg from 'pg'
import {
  LOW_STOCK_UNITS,
  type AvailabilityItem,
  type CatalogChanges,
  type CategoryBody,
  type ImportResponse,
  type PriceBody,
  type ProductBody,
  type ProductPatch,
} from '../../contracts/index.ts'
import type { Logger } from '../logger.ts'
import { CatalogListing } from './catalog-listing.ts'
import { CatalogScripts, type StockCopy } from './catalog-scripts.ts'
import { withTransaction } from '../db/transaction.ts'
import { ApiError } from '../errors/api-error.ts'
import { CatalogStore, type CatalogWrite, type StockLine } from './catalog-store.ts'

export interface CatalogOptions {
  db: pg.Pool
  redis: Redis
  prefix: string
  logger: Logger
  /** Called after a commit that queued products for the search index (core kicks the search-sync job). */
  onQueued?: () => Promise<void> | void
}

/** How long a failed post-commit Redis write keeps being retried in the background. */
const AFTER_COMMIT_RETRY_MS = 60_000

export function availabilityOf(sku: string, quantity: number | null): AvailabilityItem {
  if (quantity === null || quantity < 0) return { sku, state: 'unknown_sku', available: null }
  if (quantity === 0) return { sku, state: 'out_of_stock', available: 0 }
  return { sku, state: quantity <= LOW_STOCK_UNITS ? 'low_stock' : 'in_stock', available: quantity }
}

/**
 * The catalog domain's face to the rest of core: every write goes through the store (one Postgres transaction)
 * and then, after the commit, updates the Redis copies it made stale (stock per SKU, the edge cache tags) and
 * kicks the search sync. Reads for shoppers come from `listing` and the store.
 */
export class Catalog {
  readonly store: CatalogStore
  readonly listing: CatalogListing
  readonly scripts: CatalogScripts
  private readonly logger: Logger
  private readonly onQueued?: () => Promise<void> | void

  constructor(options: CatalogOptions) {
    this.store = new CatalogStore(options.db)
    this.listing = new CatalogListing(options.db, this.store)
    this.scripts = new CatalogScripts(options.redis, options.prefix)
    this.logger = options.logger
    this.onQueued = options.onQueued
  }

  /**
   * Applies a committed write's effects. Redis failing here does not undo the commit: the effects are retried in
   * the background for a while (a crash in between leaves them to the next change or to `catalog reindex`).
   */
  private async afterCommit(write: CatalogWrite): Promise<void> {
    const apply = async () => {
      if (write.stock.length) await this.scripts.setStock(write.stock)
      if (write.tags.size) await this.scripts.bumpTags([...write.tags])
    }
    try {
      await apply()
    } catch (error) {
      this.logger.warn(
        { err: (error as Error).message },
        'catalog: post-commit Redis write failed, retrying in the background',
      )
      void this.retry(apply, Date.now() + AFTER_COMMIT_RETRY_MS)
    }
    if (write.queued) {
      try {
        await this.onQueued?.()
      } catch (error) {
        // The search-sync job also runs on a timer: a lost kick only delays indexing.
        this.logger.warn({ err: (error as Error).message }, 'catalog: could not kick the search sync')
      }
    }
  }

  private async retry(apply: () => Promise<void>, until: number): Promise<void> {
    for (let delay = 250; Date.now() < until; delay = Math.min(5_000, delay * 2)) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref())
      try {
        await apply()
        return
      } catch {
        // keep trying until the deadline
      }
    }
    this.logger.error('catalog: gave up a post-commit Redis write; run `token-issuer catalog reindex` to resync')
  }

  async putCategory(slug: string, body: CategoryBody): Promise<{ created: boolean }> {
    const { created, write } = await this.store.putCategory(slug, body)
    await this.afterCommit(write)
    return { created }
  }

  async putProduct(slug: string, body: ProductBody): Promise<{ created: boolean }> {
    const { created, write } = await this.store.putProduct(slug, body)
    await this.afterCommit(write)
    return { created }
  }

  async patchProduct(slug: string, patch: ProductPatch): Promise<void> {
    await this.afterCommit(await this.store.patchProduct(slug, patch))
  }

  async archiveProduct(slug: string): Promise<void> {
    await this.afterCommit(await this.store.archiveProduct(slug))
  }

  async setPrice(sku: string, body: PriceBody): Promise<void> {
    await this.afterCommit(await this.store.setPrice(sku, body))
  }

  async setStock(sku: string, quantity: number): Promise<void> {
    await this.afterCommit(await this.store.setStock(sku, quantity))
  }

  async importItems(items: Array<{ line: number; item: unknown }>): Promise<ImportResponse> {
    const { response, write } = await this.store.importItems(items)
    await this.afterCommit(write)
    return response
  }

  /**
   * Everyday stock of these SKUs from the Redis copy; SKUs it lacks (a Redis that lost its data, a SKU never
   * asked about) are read from Postgres and copied in, an unknown SKU as a tombstone at version 0.
   */
  async availability(skus: string[]): Promise<AvailabilityItem[]> {
    const unique = [...new Set(skus)]
    const copies = await this.scripts.readStock(unique)
    const quantity = new Map<string, number>()
    const missing: string[] = []
    unique.forEach((sku, i) => {
      const copy = copies[i]
      if (copy) quantity.set(sku, copy.quantity)
      else missing.push(sku)
    })
    if (missing.length) {
      const fromDb = await this.store.stockOf(missing)
      const known = new Set(fromDb.map((c) => c.sku))
      const refill: StockCopy[] = [
        ...fromDb,
        ...missing.filter((s) => !known.has(s)).map((sku) => ({ sku, quantity: -1, version: 0 })),
      ]
      for (const c of refill) quantity.set(c.sku, c.quantity)
      await this.scripts.setStock(refill)
    }
    return unique.map((sku) => availabilityOf(sku, quantity.get(sku) ?? null))
  }

  /**
   * One transaction: `lines` taken out of stock (all or none; 409 `insufficient_stock` naming the first SKU
   * short), then `work` (the caller's own writes) on the same connection. Redis copies follow the commit.
   */
  async withStockTaken<T>(lines: StockLine[], work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { result, write } = await withTransaction(this.store.db, async (client) => {
      const taken = await this.store.takeStock(client, lines)
      if ('short' in taken) {
        throw new ApiError('insufficient_stock', `not enough stock of ${taken.short} for this cart`, taken.short)
      }
      return { result: await work(client), write: taken.write }
    })
    await this.afterCommit(write)
    return result
  }

  /** One transaction: `work` first (it says which lines come back, or none), then those units back in stock. */
  async withStockReturned<T>(work: (client: pg.PoolClient) => Promise<{ lines: StockLine[]; result: T }>): Promise<T> {
    const { result, write } = await withTransaction(this.store.db, async (client) => {
      const done = await work(client)
      return { result: done.result, write: await this.store.returnStock(client, done.lines) }
    })
    await this.afterCommit(write)
    return result
  }

  cartItems(skus: string[]) {
    return this.store.cartItems([...new Set(skus)])
  }

  changes(after: number): Promise<CatalogChanges> {
    return this.scripts.readChanges(after)
  }

  /**
   * After a full reindex: every SKU's stock copied to Redis again and every edge cache tag treated as changed
   * (what a lost post-commit write could have left stale).
   */
  async resync(): Promise<{ skus: number }> {
    const { rows } = await this.store.db.query<{ sku: string }>('SELECT sku FROM catalog_variants')
    let skus = 0
    for (let i = 0; i < rows.length; i += 5000) {
      const copies = await this.store.stockOf(rows.slice(i, i + 5000).map((r) => r.sku))
      await this.scripts.setStock(copies)
      skus += copies.length
    }
    await this.scripts.resetTags()
    return { skus }
  }
}
