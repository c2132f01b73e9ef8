import { Hono, type Context } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { HTTPException } from 'hono/http-exception'
import type { z } from 'zod'
import {
  HEADER_IDEMPOTENCY_KEY,
  HEADER_REPLAY_ONLY,
  HEADER_SESSION,
  HEADER_TICKET,
  OrderId,
  ORDER_WAIT_MAX_MS,
  orderIdOf,
  OrderStatus,
  peekGrant,
  peekPurchaseToken,
  publicIdOf,
  RedeemRequest,
  SaleId,
  StatusQuery,
  describeZodError,
  shuffleKey,
  signTicket,
  ticketCookie,
  verifyTicket,
  type QueueTicketPayload,
  type RoomStatus,
} from '../../contracts/index.ts'
import { answerPoll, fifoOrd, HELD_REFRESH_MS } from '../../waiting-room/frontier.ts'
import { placementShard } from '../../waiting-room/sharding.ts'
import { accountHeaders, accountIdentity, checkJoinPolicy } from '../account/identity.ts'
import { BoundedMap } from '../bounded-map.ts'
import { callCore, discard, passThrough } from '../core.ts'
import type { AppEnv, Env } from '../env.ts'
import { apiError } from '../http-error.ts'
import { idempotencyKey, type IdempotencyKeyVariables } from '../middleware/idempotency-key/index.ts'
import { jsonBody, type JsonBodyVariables } from '../middleware/json-body/index.ts'
import { pathParams } from '../middleware/path-params/index.ts'
import { rateLimit } from '../middleware/rate-limit/index.ts'
import { receivedAt, type ReceivedAtVariables } from '../middleware/received-at/index.ts'
import { networkLimit } from '../middleware/network-limit/index.ts'
import { noStore } from '../middleware/no-store/index.ts'
import { sameOrigin } from '../middleware/same-origin/index.ts'
import { cookieName, session, type SessionVariables } from '../middleware/session/index.ts'
import { clientNetwork, networkHash } from '../client-network.ts'
import { cachedFrontiers, forgetFrontiers, frontiers, frontiersStaleAt, shardOf, unwrap } from '../rooms.ts'

/** Catalog data may be this stale at the edge. */
export const SALE_CACHE_SECONDS = 2
/** Response header saying who answered a poll: `edge` (ticket + cached frontier) or `room` (the Durable Object). */
export const HEADER_ANSWERED_BY = 'x-floodgate-answered-by'
/** Response header of a held poll: how long the edge held it, ms. */
export const HEADER_HELD_MS = 'x-floodgate-held-ms'
/** A queue ticket cookie lives this long (a day: a sale's line does not outlast it). */
const TICKET_MAX_AGE_SECONDS = 24 * 3600

const saleParams = pathParams({ saleId: SaleId })

/** Runs `promise` after the response when the platform allows it (Workers), else waits for it. */
async function afterResponse(c: Context, promise: Promise<unknown>): Promise<void> {
  let ctx: ExecutionContext | undefined
  try {
    ctx = c.executionCtx as ExecutionContext
  } catch {
    ctx = undefined
  }
  if (ctx) ctx.waitUntil(promise)
  else await promise
}

const limitFromEnv = (name: keyof Env, fallback: number) => (c: Context) => {
  const raw = (c.env as Env)[name]
  const value = raw === undefined ? fallback : Number(raw)
  return Number.isFinite(value) ? value : fallback
}

type SessionContext = Context<{ Bindings: Env; Variables: SessionVariables }>

/** Tickets this instance has verified: the same signed string carries the same payload (its MAC was checked). */
const VERIFIED_TICKETS = new BoundedMap<string, QueueTicketPayload>(100_000)

/**
 * The shopper's queue ticket for this sale, from the header or the cookie. Absent: null. Present but forged,
 * for another sale or another session: 4xx, and nothing changes.
 */
async function ticketOf(c: SessionContext, saleId: string): Promise<QueueTicketPayload | null> {
  const header = c.req.header(HEADER_TICKET)
  const signed = header ?? getCookie(c, cookieName(c, ticketCookie(saleId)))
  if (signed === undefined || signed === '') return null
  const known = VERIFIED_TICKETS.get(signed)
  if (known && known.sale === saleId && known.sub === c.var.shopper) return known
  const verified = await verifyTicket(signed, c.env.GRANT_SECRET, { saleId, shopper: c.var.shopper })
  if (verified.ok) {
    VERIFIED_TICKETS.set(signed, verified.payload)
    return verified.payload
  }
  // A stale cookie from another session in the same browser is not the shopper's fault: ignore it.
  if (header === undefined && verified.code === 'ticket_session_mismatch') return null
  const message = `the queue ticket is not valid for this sale and session (${verified.code})`
  throw apiError(verified.code, message, HEADER_TICKET)
}

/**
 * Answers a poll from the ticket and the cached frontier; only a shopper the frontier has reached costs a room
 * call. With `holdMs` > 0 (a held poll) a waiting shopper's request is kept open, re-read each time this
 * instance's frontier snapshot refreshes, until the shopper is admitted, the sale sells out or its state
 * changes, or until min(holdMs, the refresh interval it would have been told): the same request rate as plain
 * polling, but news within about FRONTIER_TTL_MS. Holding costs no object request: snapshots are shared.
 */
async function pollAnswer(
  c: SessionContext,
  saleId: string,
  ticket: QueueTicketPayload,
  holdMs = 0,
): Promise<Response> {
  const started = Date.now()
  let holdUntil: number | null = null
  let heldState: string | null = null
  // The pre-queue shuffle orders by the public id (the one the public fairness proof lists); tickets signed
  // before it existed do not carry it.
  const publicId = ticket.pid ?? (await publicIdOf(c.env.GRANT_SECRET, saleId, ticket.sub))
  for (;;) {
    const now = Date.now()
    const shards = await frontiers(c.env, saleId, now)
    const frontier = shards[ticket.shard]
    let ord = frontier ? fifoOrd(ticket, frontier) : null
    if (frontier && ord === null && frontier.seed !== null) ord = await shuffleKey(frontier.seed, publicId)
    const answer = answerPoll(ticket, ord, shards, now, publicId)
    if (answer.kind === 'room') break
    const status = answer.status
    const waiting = status.state === 'waiting' || status.state === 'not_started'
    if (holdMs > 0) {
      holdUntil ??= started + Math.min(holdMs, status.refreshMs)
      heldState ??= status.state
      if (waiting && status.state === heldState && now < holdUntil) {
        // Wake when the snapshot goes stale (the first request after that refreshes it for everyone here).
        const wake = Math.min(holdUntil, Math.max(now + 10, frontiersStaleAt(saleId, now)))
        await new Promise((resolve) => setTimeout(resolve, wake - now))
        continue
      }
      c.header(HEADER_HELD_MS, String(now - started))
    }
    c.header(HEADER_ANSWERED_BY, 'edge')
    return c.json(holdMs > 0 && waiting ? { ...status, refreshMs: HELD_REFRESH_MS } : status)
  }
  c.header(HEADER_ANSWERED_BY, 'room')
  return c.json(await withOrder(c, unwrap(await shardOf(c.env, saleId, ticket.shard).status(saleId, c.var.shopper))))
}

/** How long an admitted shopper's status waits for core to say whether its grant already has an order. */
const ORDER_LOOKUP_MS = 2_000

/**
 * An admitted shopper's status, with the order its grant already has, if any (the id follows from token and
 * generation): a client whose redeem answer was lost learns its order here instead of redeeming again. Best
 * effort: if core does not answer in time, the status goes out without it.
 */
async function withOrder(c: SessionContext, status: RoomStatus): Promise<RoomStatus> {
  const grant = status.state === 'admitted' && status.grant ? peekGrant(status.grant) : null
  if (!grant) return status
  const orderId = await orderIdOf(grant.sale, grant.tid, grant.gen)
  try {
    const res = await callCore(c.env, `/v1/orders/${orderId}`, {
      headers: { [HEADER_SESSION]: c.var.session, ...accountHeaders(c) },
      receipt: { at: Date.now(), sub: c.var.shopper, idk: '' },
      timeoutMs: ORDER_LOOKUP_MS,
    })
    if (res.status !== 200) {
      // Most often 404 (no order yet: the shopper has not paid).
      await discard(res)
      return status
    }
    const order = (await res.json()) as { status?: unknown }
    const parsed = OrderStatus.safeParse(order.status)
    return parsed.success ? { ...status, order: { orderId, status: parsed.data } } : status
  } catch (err) {
    if (err instanceof HTTPException) return status
    throw err
  }
}

type RedeemContext = Context<{
  Bindings: Env
  Variables: SessionVariables &
    IdempotencyKeyVariables &
    JsonBodyVariables<z.output<typeof RedeemRequest>> &
    ReceivedAtVariables
}>

/** Forwards a redeem to core, signed with the edge's receipt (when the shopper's request arrived here). */
function redeemAtCore(c: RedeemContext, replayOnly = false): Promise<Response> {
  return callCore(c.env, '/v1/redeem', {
    method: 'POST',
    headers: {
      [HEADER_SESSION]: c.var.session,
      [HEADER_IDEMPOTENCY_KEY]: c.var.idempotencyKey,
      ...accountHeaders(c),
      'content-type': 'application/json',
      ...(replayOnly ? { [HEADER_REPLAY_ONLY]: '1' } : {}),
    },
    body: JSON.stringify(c.var.body),
    retry: true,
    receipt: { at: c.var.receivedAt, sub: c.var.shopper, idk: c.var.idempotencyKey },
  })
}

/**
 * A redeem the edge will not let through as a new one (rate limit, operator's hold) still gets its first
 * answer: if the grant already has an order, core answers it; otherwise the refusal stands.
 */
async function replayOrRefuse(c: RedeemContext, refusal: HTTPException): Promise<Response> {
  const res = await redeemAtCore(c, true).catch(() => null)
  if (res?.status === 202) return passThrough(res)
  if (res) await discard(res)
  throw refusal
}

/** `?waitMs=` of a status request (0: answer at once). */
function holdOf(c: Context): number {
  const parsed = StatusQuery.safeParse(c.req.query())
  if (!parsed.success) {
    const { field, message } = describeZodError(parsed.error)
    throw apiError('invalid_query', message, field || undefined)
  }
  return parsed.data.waitMs ?? 0
}

/**
 * Where the shopper stands (`GET /api/sales/:saleId/status`, and the waiting page's JSON mode). With a ticket:
 * answered at the edge until the frontier reaches it; `?waitMs=` holds it (see `pollAnswer`).
 */
export async function statusResponse(c: SessionContext, saleId: string): Promise<Response> {
  const holdMs = holdOf(c)
  const ticket = await ticketOf(c, saleId)
  if (ticket) return pollAnswer(c, saleId, ticket, holdMs)
  // Without a ticket there is no place to look up: answered here, so a flood of made-up sessions costs no
  // object request. A shopper who lost the ticket joins again and gets the same place back.
  throw apiError(
    'ticket_required',
    `no queue ticket for sale ${saleId}: join first (POST /api/sales/${saleId}/join)`,
    HEADER_TICKET,
  )
}

/** Joins and polls per client network and second, without the Rate Limiting binding (see `networkLimit`). */
const SHOPPER_PER_NETWORK_PER_SECOND = 20

/** Joins and polls per client network: one host cannot pin a sale's objects with fresh sessions. */
export const shopperNetworkLimit = networkLimit({
  name: 'network',
  key: clientNetwork,
  binding: (c) => (c.env as Env).SHOPPER_NETWORK_LIMITER,
  perSecond: limitFromEnv('SHOPPER_PER_NETWORK_PER_SECOND', SHOPPER_PER_NETWORK_PER_SECOND),
})

export const shopperRoutes = new Hono<AppEnv>()
  .use('*', noStore())
  /** Public sale data from core, cached at the edge for SALE_CACHE_SECONDS (200s only). */
  .get('/sales/:saleId', saleParams, async (c) => {
    const saleId = c.req.param('saleId')
    const key = new Request(new URL(`/api/sales/${saleId}`, c.req.url).toString())
    const headers = { 'content-type': 'application/json', 'cache-control': `public, max-age=${SALE_CACHE_SECONDS}` }
    const hit = await caches.default.match(key)
    if (hit) return new Response(hit.body, { status: 200, headers: { ...headers, 'x-floodgate-cache': 'hit' } })
    const res = await callCore(c.env, `/v1/sales/${saleId}`)
    if (res.status !== 200) return passThrough(res)
    const body = await res.text()
    await afterResponse(c, caches.default.put(key, new Response(body, { status: 200, headers })))
    return new Response(body, { status: 200, headers: { ...headers, 'x-floodgate-cache': 'miss' } })
  })
  /**
   * Takes a place in line, or finds the session's place again: a valid ticket (cookie or header) is answered
   * from the frontier without a room call. A new place costs one call to one shard, which returns the place
   * the edge signs into the ticket.
   */
  .post(
    '/sales/:saleId/join',
    saleParams,
    sameOrigin(),
    shopperNetworkLimit,
    session({ missing: 'create' }),
    accountIdentity(),
    async (c) => {
      const saleId = c.req.param('saleId')
      const existing = await ticketOf(c, saleId)
      if (existing) return pollAnswer(c, saleId, existing)
      const shards = await frontiers(c.env, saleId)
      checkJoinPolicy(shards[0]?.joinPolicy, c.var.account, shards[0]?.prequeueOpenedAt)
      const ip = clientNetwork(c)
      const network = ip === undefined ? undefined : await networkHash(c.env.GRANT_SECRET, ip)
      const shard = placementShard({
        shopper: c.var.shopper,
        network,
        shards: shards.length,
        capsNetworks: (shards[0]!.maxPlacesPerIp ?? null) !== null,
      })
      const placed = unwrap(await shardOf(c.env, saleId, shard).place(saleId, c.var.shopper, network))
      const place = { sale: saleId, shard: placed.shard, seq: placed.seq, pre: placed.pre, sub: c.var.shopper }
      // iat = when the place was taken: the same place always gets the same ticket.
      const stamp = { iat: placed.joinedAt, ...(placed.status.publicId ? { pid: placed.status.publicId } : {}) }
      const ticket = await signTicket({ ...place, ...stamp }, c.env.GRANT_SECRET)
      // Admitted on joining: this instance's snapshot predates it and would answer the next poll "waiting".
      if (placed.status.state === 'admitted') forgetFrontiers(saleId)
      setCookie(c, cookieName(c, ticketCookie(saleId)), ticket, {
        httpOnly: true,
        sameSite: 'Lax',
        path: '/',
        maxAge: TICKET_MAX_AGE_SECONDS,
        secure: new URL(c.req.url).protocol === 'https:',
      })
      c.header(HEADER_ANSWERED_BY, 'room')
      // The session stays in its HttpOnly cookie (or the header the app sent): never in a body a script can read.
      return c.json({ ...placed.status, ticket } satisfies RoomStatus)
    },
  )
  /** Where the shopper stands. With a ticket: answered at the edge until the frontier reaches it. */
  .get('/sales/:saleId/status', saleParams, shopperNetworkLimit, session(), accountIdentity(), (c) =>
    statusResponse(c, c.req.param('saleId')),
  )
  .post(
    '/sales/:saleId/redeem',
    // The moment the edge received the shopper's Pay: core judges the grant's expiry at this time.
    receivedAt(),
    saleParams,
    sameOrigin(),
    session(),
    accountIdentity(),
    idempotencyKey(),
    jsonBody({ schema: RedeemRequest }),
    // After validation: a malformed request is refused on its own merits and does not spend the allowance.
    rateLimit({
      name: 'network',
      perSecond: limitFromEnv('REDEEM_PER_IP_PER_SECOND', 10),
      key: clientNetwork,
      onLimit: (c, refusal) => replayOrRefuse(c as RedeemContext, refusal),
    }),
    rateLimit({
      name: 'shopper',
      perSecond: limitFromEnv('REDEEM_PER_SHOPPER_PER_SECOND', 1),
      key: (c) => (c as SessionContext).var.shopper,
      onLimit: (c, refusal) => replayOrRefuse(c as RedeemContext, refusal),
    }),
    async (c) => {
      const saleId = c.req.param('saleId')
      const sale = peekPurchaseToken(c.var.body.token)?.sale
      // A token core cannot parse is core's to reject (token_malformed); one for another sale is caught here.
      if (sale !== undefined && sale !== saleId) {
        throw apiError('token_wrong_sale', `this token is for sale ${sale}, not ${saleId}`, 'token')
      }
      // The operator's emergency stop, from this instance's snapshot: checkout never waits on the room.
      const shards = await cachedFrontiers(c.env, saleId)
      if (shards?.[0]?.mode === 'queue_all') {
        const held = apiError(
          'unavailable',
          'checkout is paused by the operator; your grant is kept, try again shortly',
          undefined,
          {
            'retry-after': '5',
          },
        )
        return replayOrRefuse(c, held)
      }
      return passThrough(await redeemAtCore(c))
    },
  )
  .get('/orders/:orderId', pathParams({ orderId: OrderId }), session(), accountIdentity(), async (c) => {
    const waitMs = c.req.query('waitMs')
    const query = waitMs === undefined ? '' : `?waitMs=${encodeURIComponent(waitMs)}`
    const holdMs = Math.min(ORDER_WAIT_MAX_MS, Math.max(0, Number(waitMs) || 0))
    const res = await callCore(c.env, `/v1/orders/${c.req.param('orderId')}${query}`, {
      headers: { [HEADER_SESSION]: c.var.session, ...accountHeaders(c) },
      retry: true,
      holdMs,
      receipt: { at: Date.now(), sub: c.var.shopper, idk: '' },
    })
    return passThrough(res)
  })
