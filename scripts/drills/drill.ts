/** What a drill is, what it gets to work with, and what a sale under a drill must tell the harness. */
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { FakeStripe } from '../../test/support/stripe-fake.ts'
import type { CoreProcess, DrillPostgres, DrillRedis } from './infra.ts'
import { settings } from './settings.ts'

/** The room's view of one token, for the books of a failed drill (the simulated room has one; the real edge not). */
export interface RoomView {
  stuckTokens(): Array<{ tid: string; gen: number; last?: unknown; heard: string[] }>
  heard(tid: string, gen: number, outcome: 'sold' | 'returned'): boolean
  gen(tid: string): number | undefined
  sold(tid: string): boolean
  visit(tid: string): unknown
  outcomes(tid: string): string[]
}

/** A live sale the harness watches: the simulated room against core (SimSale) or the real edge (EdgeSale). */
export interface DrillSale {
  readonly saleId: string
  /** Creates the sale and lets the shoppers in. */
  open(): Promise<void>
  /** Every shopper has finished and the sale is sold out or its line empty. */
  readonly done: boolean
  stop(): void
  /** Every one of these orders (placed before the heal) has its outcome in the room. */
  caughtUp(orders: Array<{ token_id: string; token_gen: number; status: string }>): Promise<boolean>
  /** Confirmed orders whose shopper's last answer was not "confirmed". */
  shoppersUninformed(confirmed: Array<{ tid: string; gen: number }>): number
  progress(): Record<string, unknown>
  roomView(): RoomView | null
  /** Legitimate refusals shoppers got (codes), for the notes. */
  readonly refusals: Map<string, number>
}

export interface DrillContext {
  redis: DrillRedis
  postgres: DrillPostgres
  fake: FakeStripe
  api: CoreProcess
  worker: CoreProcess
  apiUrl: string
  sale: DrillSale
  db: pg.Pool
  notes: string[]
}

export interface Drill {
  name: string
  /** The sale the drill runs under: the simulated room against core (default), or the real edge. */
  through?: 'core' | 'edge'
  /** Before the sale opens. */
  before?: (ctx: DrillContext) => Promise<void> | void
  /** Breaks something mid-sale and heals it; resolves with the moment of the heal. */
  fault: (ctx: DrillContext) => Promise<number>
  /** After recovery, extra checks; returns notes or throws. */
  after?: (ctx: DrillContext) => Promise<void>
}

/** Waits until `share` of the stock is confirmed while orders are still settling (a fault then hits a live sale). */
export async function untilConfirmed(ctx: DrillContext, share: number): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const { rows } = await ctx.db
      .query(
        `SELECT count(*) FILTER (WHERE status = 'CONFIRMED')::int AS c, count(*) FILTER (WHERE status = 'PENDING')::int AS p
         FROM orders`,
      )
      .catch(() => ({ rows: [{ c: 0, p: 0 }] }))
    if (rows[0].c >= settings.stock * share && rows[0].p > 0) return
    await sleep(50)
  }
}

/**
 * Once a quarter of the stock is confirmed, kill -9s `processes` with sagas running (the note says how many),
 * and a second later starts them again; resolves with the moment of the restart.
 */
export async function killMidSale(
  ctx: DrillContext,
  processes: CoreProcess[],
  note: (runningSagas: number) => string,
): Promise<number> {
  await untilConfirmed(ctx, 0.25)
  const pending = (await ctx.db.query(`SELECT count(*)::int AS n FROM sagas WHERE status = 'RUNNING'`)).rows[0].n
  for (const proc of processes) proc.kill9()
  ctx.notes.push(note(pending))
  await sleep(1000)
  await Promise.all(processes.map((proc) => proc.start()))
  return Date.now()
}
