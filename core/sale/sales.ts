import type pg from 'pg'
import {
  CreateSaleRequest,
  type InvariantReport,
  type PublicSale,
  type Sale,
  type SaleConfig,
  type TokenOutcome,
} from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'
import type { Scripts } from '../redis/scripts.ts'
import { restoreSaleCounters, type RestoreResult } from './restore-counters.ts'

interface SaleRow {
  id: string
  sku: string
  name: string
  price_cents: string
  currency: string
  stock: number
  sold: number
  per_shopper_limit: number
  token_ttl_seconds: number
  hold_ttl_seconds: number
  starts_at: Date
  created_at: Date
  checkout_held: boolean
}

function toSale(row: SaleRow): Sale {
  return {
    saleId: row.id,
    sku: row.sku,
    name: row.name,
    priceCents: Number(row.price_cents),
    currency: row.currency,
    stock: row.stock,
    perShopperLimit: row.per_shopper_limit,
    tokenTtlSeconds: row.token_ttl_seconds,
    holdTtlSeconds: row.hold_ttl_seconds,
    startsAt: row.starts_at.toISOString(),
    createdAt: row.created_at.toISOString(),
  }
}

const SAME_SALE_FIELDS = [
  'sku',
  'name',
  'priceCents',
  'currency',
  'stock',
  'perShopperLimit',
  'tokenTtlSeconds',
  'holdTtlSeconds',
] as const
const CACHE_MS = 5_000

/** Sales live in Postgres; their stock counters are seeded into Redis when the sale is created. */
export class Sales {
  private readonly cache = new Map<string, { sale: Sale; held: boolean; at: number }>()

  constructor(
    private readonly db: pg.Pool,
    private readonly scripts: Scripts,
    /** Token outcomes a counter rebuild announces (again) to the waiting room. */
    private readonly reportOutcomes: (saleId: string, outcomes: TokenOutcome[]) => Promise<void> = async () => {},
  ) {}

  /**
   * Rebuilds the sale's Redis counters from Postgres if Redis lost them (see restoreSaleCounters);
   * null when Redis still has the sale.
   */
  async restoreCounters(saleId: string): Promise<RestoreResult | null> {
    const sale = await this.get(saleId, { fresh: true })
    if (!sale) return null
    const restored = await restoreSaleCounters(this.db, this.scripts, sale)
    if (restored?.outcomes.length) await this.reportOutcomes(saleId, restored.outcomes)
    return restored
  }

  /** Idempotent: creating the same sale again returns it; a different sale under the same id is refused. */
  async create(request: CreateSaleRequest): Promise<{ sale: Sale; created: boolean }> {
    const config: SaleConfig = CreateSaleRequest.parse(request)
    const inserted = await this.db.query<SaleRow>(
      `INSERT INTO sales (id, sku, name, price_cents, currency, stock, per_shopper_limit, token_ttl_seconds, hold_ttl_seconds, starts_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (id) DO NOTHING RETURNING *`,
      [
        config.saleId,
        config.sku,
        config.name,
        config.priceCents,
        config.currency,
        config.stock,
        config.perShopperLimit,
        config.tokenTtlSeconds,
        config.holdTtlSeconds,
        config.startsAt,
      ],
    )
    const sale = inserted.rows[0] ? toSale(inserted.rows[0]) : await this.get(config.saleId, { fresh: true })
    if (!sale) throw new Error(`sale ${config.saleId} vanished while being created`)
    const created = inserted.rowCount === 1
    if (!created) {
      const differs = SAME_SALE_FIELDS.filter((f) => sale[f] !== config[f])
      if (differs.length || Date.parse(sale.startsAt) !== Date.parse(config.startsAt)) {
        throw new ApiError(
          'sale_exists',
          `sale ${config.saleId} already exists with different ${differs.join(', ') || 'startsAt'}`,
          differs[0] ?? 'startsAt',
        )
      }
    }
    // Seed a new sale; for a known one, rebuild from Postgres if Redis lost it (an earlier attempt that died
    // between Postgres and Redis, or a Redis that lost its data): never reseed a sale that sold units.
    if (created) await this.scripts.seedSale(sale.saleId, sale)
    else await this.restoreCounters(sale.saleId)
    return { sale, created }
  }

  async get(saleId: string, { fresh = false } = {}): Promise<Sale | null> {
    return (await this.cached(saleId, fresh))?.sale ?? null
  }

  /**
   * Whether the operator holds checkout (queue_all): redeem makes no new order meanwhile. Another API process
   * sees a change within CACHE_MS; this one at once.
   */
  async checkoutHeld(saleId: string): Promise<boolean> {
    return (await this.cached(saleId, false))?.held ?? false
  }

  /** Holds or releases checkout; null for an unknown sale. */
  async holdCheckout(saleId: string, held: boolean): Promise<{ saleId: string; checkoutHeld: boolean } | null> {
    const { rowCount } = await this.db.query('UPDATE sales SET checkout_held = $2 WHERE id = $1', [saleId, held])
    this.cache.delete(saleId)
    return rowCount ? { saleId, checkoutHeld: held } : null
  }

  private async cached(saleId: string, fresh: boolean): Promise<{ sale: Sale; held: boolean } | null> {
    const hit = this.cache.get(saleId)
    if (!fresh && hit && Date.now() - hit.at < CACHE_MS) return hit
    const { rows } = await this.db.query<SaleRow>('SELECT * FROM sales WHERE id = $1', [saleId])
    if (!rows[0]) return null
    const entry = { sale: toSale(rows[0]), held: rows[0].checkout_held, at: Date.now() }
    this.cache.set(saleId, entry)
    return entry
  }

  async ids(): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>('SELECT id FROM sales ORDER BY created_at')
    return rows.map((r) => r.id)
  }

  async publicView(saleId: string): Promise<PublicSale | null> {
    const sale = await this.get(saleId)
    if (!sale) return null
    const counters = await this.scripts.counters(saleId)
    return {
      saleId: sale.saleId,
      sku: sale.sku,
      name: sale.name,
      priceCents: sale.priceCents,
      currency: sale.currency,
      stock: sale.stock,
      available: counters.available,
      sold: counters.sold,
      startsAt: sale.startsAt,
    }
  }

  /** available + held + sold = stock in Redis; confirmed ≤ stock, one order per token, limits held in Postgres. */
  async invariant(saleId: string): Promise<InvariantReport | null> {
    const sale = await this.get(saleId, { fresh: true })
    if (!sale) return null
    const [redis, pgCounts] = await Promise.all([
      this.scripts.counters(saleId),
      this.db.query(
        `SELECT
           (SELECT count(*) FILTER (WHERE status = 'CONFIRMED') FROM orders WHERE sale_id = $1)::int AS confirmed,
           (SELECT count(*) FILTER (WHERE status = 'PENDING') FROM orders WHERE sale_id = $1)::int AS pending,
           (SELECT count(*) FILTER (WHERE status = 'FAILED') FROM orders WHERE sale_id = $1)::int AS failed,
           (SELECT sold FROM sales WHERE id = $1) AS sold_counter,
           (SELECT count(*) FROM (SELECT token_id FROM orders WHERE sale_id = $1 AND status = 'CONFIRMED'
                                  GROUP BY token_id HAVING count(*) > 1) t)::int AS tokens_twice,
           (SELECT count(*) FROM (SELECT shopper FROM orders WHERE sale_id = $1 AND status = 'CONFIRMED'
                                  GROUP BY shopper HAVING count(*) > $2) s)::int AS shoppers_over`,
        [saleId, sale.perShopperLimit],
      ),
    ])
    const row = pgCounts.rows[0]
    const postgres = {
      confirmed: row.confirmed as number,
      pending: row.pending as number,
      failed: row.failed as number,
      soldCounter: row.sold_counter as number,
      tokensWithTwoConfirmedOrders: row.tokens_twice as number,
      shoppersOverLimit: row.shoppers_over as number,
    }
    const units = redis.available + redis.held + redis.sold
    const checks = [
      {
        name: 'redis units add up',
        ok: units === sale.stock,
        detail: `available ${redis.available} + held ${redis.held} + sold ${redis.sold} = ${units}, stock ${sale.stock}`,
      },
      {
        name: 'never oversold',
        ok: postgres.confirmed <= sale.stock,
        detail: `confirmed ${postgres.confirmed} <= stock ${sale.stock}`,
      },
      {
        name: 'sold counter matches orders',
        ok: postgres.soldCounter === postgres.confirmed,
        detail: `sales.sold ${postgres.soldCounter}, confirmed orders ${postgres.confirmed}`,
      },
      {
        name: 'redis sold never ahead of postgres',
        ok: redis.sold <= postgres.confirmed,
        detail: `redis sold ${redis.sold}, postgres confirmed ${postgres.confirmed}`,
      },
      {
        name: 'one order per token',
        ok: postgres.tokensWithTwoConfirmedOrders === 0,
        detail: `${postgres.tokensWithTwoConfirmedOrders} tokens with more than one confirmed order`,
      },
      {
        name: 'per-shopper limit',
        ok: postgres.shoppersOverLimit === 0,
        detail: `${postgres.shoppersOverLimit} shoppers over ${sale.perShopperLimit}`,
      },
    ]
    return {
      saleId,
      stock: sale.stock,
      redis: { available: redis.available, held: redis.held, sold: redis.sold },
      postgres,
      checks,
      ok: checks.every((c) => c.ok),
    }
  }
}
