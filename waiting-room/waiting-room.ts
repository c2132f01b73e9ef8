/**
 * WaitingRoom: one Durable Object per sale and shard (`shardName`), reached by the edge over RPC. This file is
 * the object's face only: each RPC method checks that the object serves that sale and is configured (`serve`),
 * then hands over to the module for its concern:
 *
 * - schema.ts      numbered SQLite migrations, applied once per wake-up before any call is served
 * - settings.ts    configure (the only call that binds an object to a sale) and live steering
 * - line.ts        taking a place in line
 * - admission.ts   letting shoppers in at the rate, in order, while tokens are available
 * - pool.ts        loading tokens, core's outcomes, tokens coming back
 * - status.ts      what a shopper is told (position.ts: the same answer the edge gives from its snapshot)
 * - lending.ts     shards lending spare tokens to starved siblings
 * - grant-expiry.ts, schedule.ts   the alarm's timed work
 * - snapshots.ts   the frontier the edge caches, the operator's stats, the fairness report
 * - fairness.ts    the shard's part of the public fairness proof
 *
 * It holds the sale's pre-generated purchase tokens and a line of shoppers. From `startsAt` it admits shoppers
 * in order at `admitPerMinute` / shards; each admission binds one available token to one shopper with a
 * signed grant at a new generation. Core sells only against a token plus a live grant for that generation, and
 * tells the room what finally happened (`applyOutcomes`). Grants that lapse are fenced by core before their
 * token goes back to the pool, so a token is never in two shoppers' hands at once. Pre-queue joiners are
 * shuffled at the start with a committed seed (`ord` = shuffle key in [0, 1)); later joiners queue FIFO
 * behind them (`ord` = 1 + seq).
 */
import { DurableObject } from 'cloudflare:workers'
import {
  FAIRNESS_PAGE_MAX,
  publicIdOf,
  shuffleKey,
  type FairnessAdmission,
  type FairnessJoin,
  type FairnessPlace,
  type FairnessShardPage,
  type FairnessShardSummary,
  type LoadTokensResponse,
  type RoomReport,
  type RoomStats,
  type RoomStatus,
  type RoomSteer,
  type TokenOutcome,
} from '../contracts/index.ts'
import { admissionsPage, backfillPublicIds, joinsPage, place, summary } from './fairness.ts'
import type { RoomFrontier } from './frontier.ts'
import { expireGrants } from './grant-expiry.ts'
import { borrow, lend, lentReleased, notifyLentReleased, unlend, type LentToken } from './lending.ts'
import { admit } from './admission.ts'
import { takePlace } from './line.ts'
import { applyOutcomes, loadTokens } from './pool.ts'
import { fail, ok, type RoomResult } from './results.ts'
import type { RoomEnv } from './room-env.ts'
import { migrate, schemaExists } from './schema.ts'
import { scheduleAlarm } from './schedule.ts'
import {
  configure,
  steer,
  wrongSale,
  type ConfigureInput,
  type RoomSettings,
  type ShardAssignment,
} from './settings.ts'
import { frontier, report, stats } from './snapshots.ts'
import { describe } from './status.ts'
import { RoomStore, type Config, type LentRef } from './store.ts'

/** A join: what the shopper sees, plus the place the edge signs into the queue ticket. */
export type JoinResult = { status: RoomStatus; shard: number; seq: number; pre: boolean; joinedAt: number }

export class WaitingRoom extends DurableObject<RoomEnv> {
  private readonly store: RoomStore
  /** False until `configure`: an object nobody configured (a join for a made-up sale id) writes nothing at all. */
  private hasSchema: boolean

  constructor(ctx: DurableObjectState, env: RoomEnv) {
    super(ctx, env)
    this.store = new RoomStore(ctx.storage)
    this.hasSchema = schemaExists(ctx.storage)
    if (this.hasSchema) {
      void ctx.blockConcurrencyWhile(async () => {
        migrate(ctx.storage)
        await backfillPublicIds(this.store, env.GRANT_SECRET)
      })
    }
  }

  /**
   * The one sale-binding preamble: runs `call` for `saleId` only on an object configured for that sale. An
   * object that serves another sale, or was never configured, answers a failure and nothing is written.
   */
  private async serve<T>(
    saleId: string,
    call: (config: Config, now: number) => RoomResult<T> | Promise<RoomResult<T>>,
  ): Promise<RoomResult<T>> {
    if (!this.schemaReady()) return fail('room_not_configured', `there is no waiting room for sale ${saleId}`)
    this.store.fresh()
    const current = this.store.room().sale_id
    if (current !== null && current !== saleId) return wrongSale(current, saleId)
    const config = this.store.config()
    if (!config) return fail('room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    return call(config, this.store.now())
  }

  private schemaReady(): boolean {
    return (this.hasSchema ||= schemaExists(this.ctx.storage))
  }

  /** Admits whoever the budget allows now; keeps the alarm going if that admitted anyone. */
  private async catchUp(now: number): Promise<void> {
    const admitted = this.store.tx(() => admit(this.store, now))
    if (admitted > 0) await scheduleAlarm(this.store, now)
  }

  // ------------------------------------------------------------------ RPC: operator

  /** See settings.ts. `assignment` says which shard this object is and carries the sale's seed to shards > 0. */
  async configure(
    config: ConfigureInput,
    assignment: ShardAssignment = {},
  ): Promise<RoomResult<RoomSettings & { commitment: string }>> {
    if (!this.hasSchema) {
      migrate(this.ctx.storage)
      this.hasSchema = true
    }
    this.store.fresh()
    const now = this.store.now()
    const result = await configure(this.store, config, assignment, now)
    if (result.ok) await scheduleAlarm(this.store, now)
    return result
  }

  /** The shuffle seed, for the edge to hand to the sale's other shards. Never sent to shoppers before the start. */
  async shuffleSeed(saleId: string): Promise<RoomResult<string | null>> {
    return this.serve(saleId, () => ok(this.store.room().seed))
  }

  async steer(saleId: string, change: RoomSteer): Promise<RoomResult<RoomStats>> {
    return this.serve(saleId, async (_config, now) => {
      steer(this.store, change, now)
      await scheduleAlarm(this.store, now)
      return ok(stats(this.store, this.store.config()!, now))
    })
  }

  /** The snapshot the edge caches to answer polls (see `RoomFrontier`). */
  async frontier(saleId: string): Promise<RoomResult<RoomFrontier>> {
    return this.serve(saleId, async (config, now) => {
      await this.catchUp(now)
      return ok(frontier(this.store, config, now))
    })
  }

  async report(saleId: string): Promise<RoomResult<RoomReport>> {
    return this.serve(saleId, (config, now) => ok(report(this.store, config, now)))
  }

  async loadTokens(saleId: string, tokens: string[]): Promise<RoomResult<LoadTokensResponse>> {
    return this.serve(saleId, async (_config, now) => {
      const result = loadTokens(this.store, saleId, tokens, now)
      if (result.ok) await scheduleAlarm(this.store, now)
      return result
    })
  }

  async applyOutcomes(saleId: string, outcomes: TokenOutcome[]): Promise<RoomResult<{ applied: number }>> {
    return this.serve(saleId, async (_config, now) => {
      const applied = applyOutcomes(this.store, outcomes, now)
      await notifyLentReleased(this.store, this.env)
      await scheduleAlarm(this.store, now)
      return ok({ applied })
    })
  }

  async stats(saleId: string): Promise<RoomResult<RoomStats>> {
    return this.serve(saleId, (config, now) => ok(stats(this.store, config, now)))
  }

  // ------------------------------------------------------------------ RPC: shoppers

  /** Puts a shopper in line (or finds its existing place: joining twice is a no-op). */
  async join(saleId: string, shopper: string, ip?: string): Promise<RoomResult<RoomStatus>> {
    const joined = await this.place(saleId, shopper, ip)
    return joined.ok ? ok(joined.value.status) : joined
  }

  /**
   * `join` for the edge: also returns the place (shard, seq, pre-queue or not) that the edge signs into the
   * shopper's queue ticket. `ip` (a hash of the client address) enforces `maxPlacesPerIp`.
   */
  async place(saleId: string, shopper: string, ip?: string): Promise<RoomResult<JoinResult>> {
    return this.serve(saleId, async (config, now) => {
      const room = this.store.room()
      const pre = now < config.startsAt
      const publicId = await publicIdOf(this.env.GRANT_SECRET, saleId, shopper)
      // The pre-queue order key is computed now (the seed is secret until the start) and stored, never shown early.
      const key = pre && config.prequeueOrder === 'shuffle' && room.seed ? await shuffleKey(room.seed, publicId) : null
      const taken = takePlace(this.store, { shopper, publicId, ip, pre, key }, now)
      if (!taken.ok) return taken
      await scheduleAlarm(this.store, now)
      const row = this.store.queueRow(shopper)!
      return ok({
        status: await describe(this.store, config, shopper, now, this.env.GRANT_SECRET),
        shard: room.shard,
        seq: row.seq,
        pre: row.pre === 1,
        joinedAt: row.joined_at,
      })
    })
  }

  /** Where a shopper stands. `not_found` when the shopper never joined. */
  async status(saleId: string, shopper: string): Promise<RoomResult<RoomStatus>> {
    return this.serve(saleId, async (config, now) => {
      if (!this.store.queueRow(shopper)) return fail('not_found', 'this session has not joined the line: join first')
      await this.catchUp(now)
      return ok(await describe(this.store, config, shopper, now, this.env.GRANT_SECRET))
    })
  }

  // ------------------------------------------------------------------ RPC: the public fairness proof (fairness.ts)

  async fairnessSummary(saleId: string): Promise<RoomResult<FairnessShardSummary>> {
    return this.serve(saleId, (config, now) => ok(summary(this.store, config, now)))
  }

  /** Pre-queue places after seq `after`. */
  async fairnessJoins(
    saleId: string,
    after: number,
    limit: number,
  ): Promise<RoomResult<FairnessShardPage<FairnessJoin>>> {
    return this.serve(saleId, () => ok(joinsPage(this.store, after, Math.min(limit, FAIRNESS_PAGE_MAX))))
  }

  /** Admissions after log id `after`. */
  async fairnessAdmissions(
    saleId: string,
    after: number,
    limit: number,
  ): Promise<RoomResult<FairnessShardPage<FairnessAdmission>>> {
    return this.serve(saleId, async () => {
      return ok(await admissionsPage(this.store, after, Math.min(limit, FAIRNESS_PAGE_MAX)))
    })
  }

  /** One shopper's place here, by public id (null: not in this shard). */
  async fairnessPlace(saleId: string, publicId: string): Promise<RoomResult<FairnessPlace | null>> {
    return this.serve(saleId, (config, now) => ok(place(this.store, config, publicId, now)))
  }

  // ------------------------------------------------------------------ RPC: other shards of the sale (lending.ts)

  async lend(saleId: string, to: number, shoppers: string[]): Promise<RoomResult<LentToken[]>> {
    return this.serve(saleId, async (config, now) => {
      const lent = lend(this.store, config, to, shoppers, now)
      if (now >= config.startsAt) await scheduleAlarm(this.store, now)
      return ok(lent)
    })
  }

  async unlend(saleId: string, from: number, refs: LentRef[]): Promise<RoomResult<{ released: number }>> {
    return this.serve(saleId, async (_config, now) => {
      const released = unlend(this.store, from, refs, now)
      await scheduleAlarm(this.store, now)
      return ok({ released })
    })
  }

  async lentReleased(saleId: string, refs: LentRef[]): Promise<RoomResult<{ expired: number }>> {
    return this.serve(saleId, () => ok({ expired: lentReleased(this.store, refs) }))
  }

  // ------------------------------------------------------------------ timed work

  override async alarm(): Promise<void> {
    if (!this.schemaReady()) return
    const store = this.store
    store.fresh()
    if (!store.config()) return
    store.tx(() => admit(store, store.now()))
    await expireGrants(store, this.env, store.now())
    await notifyLentReleased(store, this.env)
    store.tx(() => admit(store, store.now()))
    await borrow(store, this.env, store.now())
    await scheduleAlarm(store, store.now(), { replace: true })
  }
}
