/**
 * A live sale through the real edge and waiting room (workerd via Miniflare) in front of the drill's core
 * processes: the operator creates it with token-issuer, and a crowd of real-client shoppers (bench/shoppers.ts)
 * joins, waits, redeems with one Idempotency-Key per purchase (repeated after a 5xx or a lost connection) and
 * follows its order. The shoppers' grants lapse after 30 s, so stalls in core or Redis meet the receipt
 * window and the grant fence for real.
 */
import { runCrowd, shoppersUninformed, type CrowdReport } from '../../bench/shoppers.ts'
import { createSale, issuerConfig, roomStats, type IssuerConfig } from '../../token-issuer/issuer.ts'
import { startLocalEdge, type LocalEdge } from '../local-edge.ts'
import type { DrillSale } from './drill.ts'
import { DEV, settings } from './settings.ts'

const GRANT_TTL_SECONDS = 30

export class EdgeSale implements DrillSale {
  readonly refusals = new Map<string, number>()
  private crowd?: Promise<CrowdReport>
  private report?: CrowdReport
  private cfg: IssuerConfig

  private constructor(
    readonly saleId: string,
    private readonly edge: LocalEdge,
    apiUrl: string,
  ) {
    this.cfg = issuerConfig({
      CORE_URL: apiUrl,
      EDGE_URL: edge.url,
      CORE_ADMIN_TOKEN: DEV.CORE_ADMIN_TOKEN,
      EDGE_ADMIN_TOKEN: DEV.EDGE_ADMIN_TOKEN,
      TOKEN_SECRET: DEV.TOKEN_SECRET,
    })
  }

  /** The edge on `edgePort`, calling core at `apiUrl` (core reports outcomes to EDGE_URL = this edge). */
  static async start(saleId: string, apiUrl: string, edgePort: number): Promise<EdgeSale> {
    const edge = await startLocalEdge({
      coreUrl: apiUrl,
      grantSecret: DEV.GRANT_SECRET,
      edgeAdminToken: DEV.EDGE_ADMIN_TOKEN,
      coreInternalToken: DEV.CORE_INTERNAL_TOKEN,
      port: edgePort,
    })
    return new EdgeSale(saleId, edge, apiUrl)
  }

  async open(): Promise<void> {
    for (;;) {
      try {
        await createSale(this.cfg, {
          saleId: this.saleId,
          sku: 'DRILL',
          name: 'Drill drop',
          priceCents: 4999,
          stock: settings.stock,
          tokenTtlSeconds: GRANT_TTL_SECONDS,
          holdTtlSeconds: 60,
          startsAt: new Date().toISOString(),
          admitPerMinute: 600,
        })
        break
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    this.crowd = runCrowd({
      edgeUrl: this.edge.url,
      saleId: this.saleId,
      shoppers: settings.shoppers,
      arrivalMs: 10_000,
      declineRate: settings.declineRate,
      maxWaitMs: settings.deadlineMs,
    }).then((report) => {
      this.report = report
      for (const r of report.results) {
        if (r.outcome === 'refused') this.refusals.set(r.detail ?? '?', (this.refusals.get(r.detail ?? '?') ?? 0) + 1)
      }
      return report
    })
  }

  get done(): boolean {
    return this.report !== undefined
  }

  stop(): void {}

  /** The room has heard every outcome: nothing is waiting on core's word, and it sold what Postgres confirmed. */
  async caughtUp(orders: Array<{ status: string }>): Promise<boolean> {
    const room = await roomStats(this.cfg, this.saleId).catch(() => null)
    const confirmed = orders.filter((o) => o.status === 'CONFIRMED').length
    return room !== null && room.redeemed === 0 && room.sold >= confirmed && orders.every((o) => o.status !== 'PENDING')
  }

  shoppersUninformed(confirmed: Array<{ tid: string; gen: number }>): number {
    return this.report ? shoppersUninformed(this.report.results, confirmed) : confirmed.length
  }

  progress(): Record<string, unknown> {
    return this.report ? { done: true, ...this.report.byOutcome } : { done: false }
  }

  roomView(): null {
    return null
  }

  /** What the shoppers saw (5xx, lost connections, gave up), for the drill's notes. */
  crowdReport(): CrowdReport | undefined {
    return this.report
  }

  async close(): Promise<void> {
    await this.crowd?.catch(() => undefined)
    await this.edge.dispose()
  }
}
