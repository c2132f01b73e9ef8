import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { Redis } from 'ioredis'
import type { CatalogChanges } from '../../contracts/index.ts'
import { loadScripts } from '../redis/script-loader.ts'

const LUA_DIR = fileURLToPath(new URL('./lua/', import.meta.url))
/** Tags the change feed remembers one by one; older changes only raise its floor. */
export const FEED_TAGS_KEPT = 5_000
/** Most tags one answer lists; more changed than that and the edge is told to treat everything as changed. */
export const FEED_TAGS_PER_ANSWER = 1_000

/**
 * The catalog's Redis keys, all under the `{catalog}` hash tag (one cluster slot, so each script touches one).
 */
export function catalogKeys(prefix: string) {
  const key = (part: string) => `${prefix}:{catalog}:${part}`
  return { stock: key('stock'), seq: key('seq'), tags: key('tags'), floor: key('floor'), epoch: key('epoch') }
}
export type CatalogKeys = ReturnType<typeof catalogKeys>

export interface StockCopy {
  sku: string
  /** Units on hand; -1 = the SKU is not (or no longer) an active variant. */
  quantity: number
  version: number
}

type Command = (...args: (string | number)[]) => Promise<unknown>

/** The only way the catalog talks to its Lua scripts (core/catalog/lua). */
export class CatalogScripts {
  private static scripts = loadScripts(LUA_DIR)
  readonly keys: CatalogKeys

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = catalogKeys(prefix)
    for (const script of CatalogScripts.scripts) {
      const name = CatalogScripts.command(script.name)
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua })
    }
  }

  /** Registered under a catalog prefix so they can never collide with the sale scripts on the same connection. */
  private static command(name: string): string {
    return `catalog_${name}`
  }

  private exec(name: string, args: (string | number)[]): Promise<unknown> {
    const command = (this.redis as unknown as Record<string, Command>)[CatalogScripts.command(name)] as Command
    return command.call(this.redis, ...args)
  }

  setStockArgs(copies: StockCopy[]): (string | number)[] {
    return [this.keys.stock, ...copies.flatMap((c) => [c.sku, c.quantity, c.version])]
  }

  /** Writes each copy unless Redis has that SKU at the same or a newer version. Returns how many were written. */
  async setStock(copies: StockCopy[]): Promise<number> {
    let written = 0
    // Bounded argument lists: a 10,000-product import writes its copies in slices.
    for (let i = 0; i < copies.length; i += 1000)
      written += Number(await this.exec('setStock', this.setStockArgs(copies.slice(i, i + 1000))))
    return written
  }

  /** The Redis copies of these SKUs (null where Redis has none). */
  async readStock(skus: string[]): Promise<Array<{ quantity: number; version: number } | null>> {
    if (!skus.length) return []
    const values = await this.redis.hmget(this.keys.stock, ...skus)
    return values.map((v) => {
      const match = v === null ? null : /^(\d+):(-?\d+)$/.exec(v)
      return match ? { version: Number(match[1]), quantity: Number(match[2]) } : null
    })
  }

  bumpTagsArgs(tags: string[], keep = FEED_TAGS_KEPT): (string | number)[] {
    const k = this.keys
    return [k.seq, k.tags, k.floor, k.epoch, randomBytes(6).toString('hex'), keep, ...tags]
  }

  /** Records one change of these edge cache tags; returns its sequence number. */
  async bumpTags(tags: string[]): Promise<number> {
    return Number(await this.exec('bumpTags', this.bumpTagsArgs([...new Set(tags)])))
  }

  /** One change that makes every tag stale: keeping no tags raises the floor to the new sequence number. */
  async resetTags(): Promise<number> {
    return Number(await this.exec('bumpTags', this.bumpTagsArgs(['all'], 0)))
  }

  readChangesArgs(after: number, limit: number): (string | number)[] {
    const k = this.keys
    return [k.seq, k.tags, k.floor, k.epoch, after, limit, randomBytes(6).toString('hex')]
  }

  /** Tags changed after `after` (see readChanges-4.lua). */
  async readChanges(after: number, limit = FEED_TAGS_PER_ANSWER): Promise<CatalogChanges & { epoch: string }> {
    const reply = (await this.exec('readChanges', this.readChangesArgs(after, limit))) as Array<string | number>
    const [epoch, seq, floor, ...pairs] = reply
    const tags: Record<string, number> = {}
    for (let i = 0; i < pairs.length; i += 2) tags[String(pairs[i])] = Number(pairs[i + 1])
    return { epoch: String(epoch), seq: Number(seq), floor: Number(floor), tags }
  }
}
