/**
 * The books of a drill: orders, charges (from the gateway's own ledger, not ours) and, when a drill fails,
 * everything an operator needs to see about every order that did not settle.
 */
import { existsSync, readFileSync } from 'node:fs'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type pg from 'pg'
import type { TokenOutcome } from '../../contracts/index.ts'
import { QUEUE_NAMES } from '../../core/jobs/jobs.ts'
import { saleKeys } from '../../core/redis/keys.ts'
import type { FakeStripe } from '../../test/support/stripe-fake.ts'
import type { RoomView } from './drill.ts'

export async function books(
  db: pg.Pool,
  fake: FakeStripe,
  saleId: string,
): Promise<{
  confirmed: number
  pending: number
  active: number
  lostOrders: number
  doubleCharges: number
  openAuthorizations: number
  orders: Map<string, string>
}> {
  const { rows } = await db.query<{ id: string; status: string }>('SELECT id, status FROM orders WHERE sale_id = $1', [
    saleId,
  ])
  const orders = new Map(rows.map((r) => [r.id, r.status]))
  const active = (
    await db.query(`SELECT count(*)::int AS n FROM sagas WHERE status IN ('RUNNING', 'SUSPENDED', 'COMPENSATING')`)
  ).rows[0].n as number
  let lostOrders = 0
  let doubleCharges = 0
  let openAuthorizations = 0
  const charged = new Map<string, number>()
  // Every order the gateway heard of, the sale's and any other (cart orders beside the drop).
  const intents = [...fake.intents.values()]
  const paid = await db.query<{ id: string; status: string }>('SELECT id, status FROM orders WHERE id = ANY($1)', [
    intents.map((i) => i.orderId),
  ])
  const statusOf = new Map(paid.rows.map((r) => [r.id, r.status]))
  for (const intent of intents) {
    if (intent.captures > 1) doubleCharges += intent.captures - 1
    if (intent.status === 'succeeded' && intent.amountReceived - intent.amountRefunded > 0) {
      charged.set(intent.orderId, (charged.get(intent.orderId) ?? 0) + 1)
      if (statusOf.get(intent.orderId) !== 'CONFIRMED') lostOrders++
    }
    if (intent.status === 'requires_capture' && statusOf.get(intent.orderId) === 'FAILED') openAuthorizations++
  }
  for (const n of charged.values()) if (n > 1) doubleCharges += n - 1
  return {
    confirmed: rows.filter((r) => r.status === 'CONFIRMED').length,
    pending: rows.filter((r) => r.status === 'PENDING').length,
    active,
    lostOrders,
    doubleCharges,
    openAuthorizations,
    orders,
  }
}

/** The books of one order that is not final, or whose outcome never reached the room. */
interface OrderBooks {
  orderId: string
  /** Why it is in the books: 'pending', 'saga <status>', 'outcome not heard', 'token stuck in the room'. */
  why: string[]
  order: Record<string, unknown> | null
  saga: { status: string; completed: string[]; failure: string | null; updatedAt: string } | null
  stepLog: string[]
  payment: Record<string, unknown> | null
  /** BullMQ checkout jobs `<orderId>` and `<orderId>.resume`: state, attempts, stalls, failure. */
  jobs: Record<string, unknown>
  /** Room notification jobs (single or batched) that carry an outcome of this order's token generation. */
  roomJobs: Record<string, unknown>
  /** Redis: the hold (held with expiry / committed / none) and the token's state. */
  hold: { state: 'held' | 'committed' | 'none'; info: string | null; expiresAt: string | null; token: string | null }
  room: { gen: number | undefined; sold: boolean; last?: unknown; heard: string[] } | null
  /** Core log lines that name the order. */
  log: string[]
}

export interface DrillBooks {
  redis: Record<string, unknown>
  orders: OrderBooks[]
  /** Tokens the room holds and never handed out again, with no order row to explain them. */
  tokens: Array<{ tid: string; gen: number; token: string | null; last?: unknown; heard: string[] }>
}

/**
 * What an operator needs to see when a drill does not settle: every order not final (or final but whose
 * outcome the room never heard), and every token the room holds but never re-issued, each with its order
 * row, saga record and step log, payment, BullMQ jobs, Redis hold and the room's view of its token.
 */
export async function drillBooks(
  db: pg.Pool,
  redisUrl: string,
  saleId: string,
  room: RoomView | null,
  logPath: string,
): Promise<DrillBooks> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {})
  const keys = saleKeys('fg', saleId)
  const { hostname: host, port } = new URL(redisUrl)
  const connection = { host, port: Number(port), maxRetriesPerRequest: 1 }
  const checkout = new Queue(QUEUE_NAMES.checkout, { connection, prefix: 'fg:bull' })
  const outcomes = new Queue(QUEUE_NAMES.roomOutcomes, { connection, prefix: 'fg:bull' })
  const jobState = async (queue: Queue, id: string) => {
    const job = await queue.getJob(id).catch(() => undefined)
    if (!job) return 'none'
    const state = await job.getState().catch((e: Error) => `? ${e.message}`)
    const at = (ms?: number) => (ms ? new Date(ms).toISOString().slice(11, 23) : undefined)
    return {
      state,
      attemptsMade: job.attemptsMade,
      attemptsStarted: job.attemptsStarted,
      stalledCounter: job.stalledCounter,
      failedReason: job.failedReason || undefined,
      added: at(job.timestamp),
      processedOn: at(job.processedOn),
      finishedOn: at(job.finishedOn),
      returnvalue: job.returnvalue ?? undefined,
    }
  }
  try {
    const stuck = room?.stuckTokens() ?? []
    const stuckTids = stuck.map((t) => t.tid)
    const { rows } = await db.query<Record<string, any>>(
      `SELECT o.*, s.status AS saga_status, s.completed_steps, s.failure AS saga_failure, s.updated_at AS saga_updated_at
       FROM orders o LEFT JOIN sagas s ON s.id = o.id
       WHERE o.sale_id = $1 ORDER BY o.created_at`,
      [saleId],
    )
    // Every room notification job, single or batched, by the outcomes it carries.
    const carried = new Map<string, Array<{ id: string; job: Awaited<ReturnType<Queue['getJob']>> }>>()
    for (const job of await outcomes
      .getJobs(['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized', 'wait'], 0, -1)
      .catch(() => [])) {
      if (!job?.id) continue
      const data = job.data as { saleId?: string; outcome?: TokenOutcome; outcomes?: TokenOutcome[] }
      if (data.saleId !== saleId) continue
      for (const o of data.outcomes ?? (data.outcome ? [data.outcome] : [])) {
        const key = `${o.tid}.${o.gen}.${o.outcome}`
        carried.set(key, [...(carried.get(key) ?? []), { id: job.id, job }])
      }
    }
    const lines = existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n') : []
    const orders: OrderBooks[] = []
    for (const r of rows) {
      const why: string[] = []
      if (r.status === 'PENDING') why.push('pending')
      if (r.saga_status !== 'COMPLETED' && r.saga_status !== 'COMPENSATED')
        why.push(`saga ${r.saga_status ?? 'missing'}`)
      const heardIt = !room
        ? true
        : r.status === 'CONFIRMED'
          ? room.heard(r.token_id, r.token_gen, 'sold')
          : r.status === 'FAILED'
            ? room.heard(r.token_id, r.token_gen, 'returned') || (room.gen(r.token_id) ?? 0) > r.token_gen
            : true
      if (!heardIt) why.push('outcome not heard')
      if (stuckTids.includes(r.token_id) && room?.gen(r.token_id) === r.token_gen) why.push('token stuck in the room')
      if (!why.length) continue
      const [info, score, token] = await Promise.all([
        redis.hget(keys.holdInfo, r.id),
        redis.zscore(keys.holds, r.id),
        redis.hget(keys.tokens, r.token_id),
      ])
      const stepLog = (await db.query('SELECT * FROM saga_step_log WHERE saga_id = $1 ORDER BY id', [r.id])).rows.map(
        (l) =>
          `${new Date(l.at).toISOString().slice(11, 23)} ${l.step} ${l.outcome}${l.detail ? ` (${l.detail})` : ''}`,
      )
      const payment = (await db.query('SELECT * FROM payments WHERE order_id = $1', [r.id])).rows[0] ?? null
      const roomJobs: Record<string, unknown> = {}
      for (const outcome of ['sold', 'returned']) {
        const jobs = carried.get(`${r.token_id}.${r.token_gen}.${outcome}`) ?? []
        roomJobs[outcome] = jobs.length
          ? Object.fromEntries(await Promise.all(jobs.map(async ({ id }) => [id, await jobState(outcomes, id)])))
          : 'none'
      }
      const { saga_status, completed_steps, saga_failure, saga_updated_at, ...order } = r
      orders.push({
        orderId: r.id,
        why,
        order: { ...order, shopper: String(order.shopper).slice(0, 12) },
        saga: saga_status
          ? {
              status: saga_status,
              completed: (completed_steps as Array<{ step: string; compensated?: boolean }>).map(
                (c) => `${c.step}${c.compensated ? ' (compensated)' : ''}`,
              ),
              failure: saga_failure,
              updatedAt: new Date(saga_updated_at).toISOString(),
            }
          : null,
        stepLog,
        payment,
        jobs: {
          [r.id]: await jobState(checkout, r.id),
          [`${r.id}.resume`]: await jobState(checkout, `${r.id}.resume`),
        },
        roomJobs,
        hold: {
          state: !info ? 'none' : score !== null ? 'held' : 'committed',
          info,
          expiresAt: score !== null ? new Date(Number(score)).toISOString() : null,
          token,
        },
        room: room
          ? {
              gen: room.gen(r.token_id),
              sold: room.sold(r.token_id),
              last: room.visit(r.token_id),
              heard: room.outcomes(r.token_id),
            }
          : null,
        log: lines
          .filter((l) => l.includes(r.id))
          .slice(-20)
          .map((l) => l.slice(0, 500)),
      })
    }
    const explained = new Set(orders.map((o) => `${o.order?.token_id}.${o.order?.token_gen}`))
    const tokens = []
    for (const t of stuck)
      if (!explained.has(`${t.tid}.${t.gen}`)) tokens.push({ ...t, token: await redis.hget(keys.tokens, t.tid) })
    const counters = await redis.multi().get(keys.stock).get(keys.sold).hlen(keys.holdInfo).zcard(keys.holds).exec()
    const [available, sold, holds, expiring] = (counters ?? []).map(([, v]) => v)
    return {
      redis: { available, sold, holds, expiring, checkoutJobs: await checkout.getJobCounts().catch(() => null) },
      orders,
      tokens,
    }
  } finally {
    await Promise.all([checkout.close(), outcomes.close()]).catch(() => {})
    redis.disconnect()
  }
}
