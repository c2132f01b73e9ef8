/**
 * The edge's receipt for a shopper's call to core: when the edge received the request, signed with the
 * edge's service credential and bound to the request (path, shopper, Idempotency-Key).
 *
 * Core uses it for one thing: "pressing Pay in time counts". A redeem the edge received before the grant
 * expired is judged at the time the edge received it, even when core gets to it later (a stalled process, a
 * paused Redis), as long as core gets to it within RECEIPT_WINDOW_MS. That window is the edge's own timeout
 * for calls to core: any later, and the edge has already answered the shopper 503, so core judges the
 * request at its own clock. The waiting room fences a lapsed grant only GRANT_FENCE_DELAY_MS after its expiry,
 * longer than the window, so the token is never given to the next shopper while such a call may be in flight.
 *
 * Wire format: the token envelope (`fge1.<payload>.<mac>`, see token.ts), HMAC-SHA256 with the secret the
 * edge and core share for edge → core calls.
 */
import { z } from 'zod'
import { HEADER_IDEMPOTENCY_KEY, HEADER_SESSION } from './schemas.ts'
import { openEnvelope, shopperOf, signEnvelope } from './token.ts'

export const RECEIPT_PREFIX = 'fge1'
export const HEADER_EDGE_RECEIPT = 'x-floodgate-edge-receipt'
/** A keyed hash of the client's network, sent by the edge and bound into its receipt's `sub` (login limits). */
export const HEADER_CLIENT_KEY = 'x-floodgate-client-key'
/**
 * Sent by the edge on a redeem it will not let through as a new one (the shopper is over the rate limit, the
 * operator holds checkout): core only answers an order the grant already has, or 404 `order_not_found`.
 */
export const HEADER_REPLAY_ONLY = 'x-floodgate-replay-only'
/**
 * The edge gives up on a call to core after this long (and answers 503 `unavailable`; the client retries with
 * the same Idempotency-Key). Core answers a redeem in milliseconds; this only bounds a stalled core. It is also
 * the receipt window, and the fence delay is built on it, so it sets how late a lapsed grant's unit reaches the
 * next shopper: keep it short.
 */
export const EDGE_CORE_TIMEOUT_MS = 6_000
/** How long core honours a receipt's time: the edge's timeout, so nobody the edge gave up on is judged early. */
export const RECEIPT_WINDOW_MS = EDGE_CORE_TIMEOUT_MS
/** A receipt older than this no longer authenticates the edge's call at all (a captured header replayed later). */
export const RECEIPT_MAX_AGE_MS = 60_000
/**
 * Clocks of the edge and core may disagree by this much; fences wait for it too. NTP keeps real hosts within
 * tens of milliseconds.
 */
export const CLOCK_SKEW_MS = 1_000
/**
 * The waiting room asks core to fence a grant this long after its expiry: a redeem the edge received just
 * before expiry can reach core for up to RECEIPT_WINDOW_MS afterwards and must find the grant unfenced (plus
 * the clocks' disagreement and a second for the fence's own trip).
 */
export const GRANT_FENCE_DELAY_MS = RECEIPT_WINDOW_MS + CLOCK_SKEW_MS + 1_000

export const EdgeReceiptPayload = z
  .object({
    typ: z.literal('er'),
    /** Epoch ms at which the edge received the shopper's request. */
    at: z.number().int().positive(),
    /** Method and path of the call to core, e.g. `POST /v1/redeem`. */
    req: z.string().min(1).max(300),
    /** Shopper id (hash of the session) or '' for calls without one. */
    sub: z.string().max(64),
    /** The shopper's Idempotency-Key, or ''. */
    idk: z.string().max(255),
  })
  .strict()
export type EdgeReceiptPayload = z.infer<typeof EdgeReceiptPayload>

export function signEdgeReceipt(payload: Omit<EdgeReceiptPayload, 'typ'>, secret: string): Promise<string> {
  return signEnvelope(RECEIPT_PREFIX, EdgeReceiptPayload.parse({ typ: 'er', ...payload }), secret)
}

export type ReceiptVerdict =
  | { ok: true; receivedAt: number; ageMs: number }
  | { ok: false; code: 'receipt_malformed' | 'receipt_bad_signature' | 'receipt_mismatch' | 'receipt_stale' }

/**
 * Checks a receipt against the request core is serving: the edge's signature, bound to this request, no older
 * than RECEIPT_MAX_AGE_MS. `receivedAt` is never later than `nowMs` (an edge clock ahead of core's buys no
 * time); see `honouredTime` for which time a redeem is judged at.
 */
export async function verifyEdgeReceipt(
  signed: unknown,
  secret: string,
  expect: { req: string; sub: string; idk: string; nowMs: number },
): Promise<ReceiptVerdict> {
  const opened = await openReceipt(signed, secret)
  if (!opened.ok) return opened
  const r = opened.payload
  if (r.req !== expect.req || r.sub !== expect.sub || r.idk !== expect.idk)
    return { ok: false, code: 'receipt_mismatch' }
  return dated(r, expect.nowMs)
}

/**
 * Checks that a call to core comes from the edge: its receipt is signed with the shared secret, names this
 * method and path, and is no older than RECEIPT_MAX_AGE_MS. Core requires it on every `/v1/*` call; the
 * redeem then checks shopper and key as well (`verifyEdgeReceipt`).
 */
export async function verifyEdgeCall(
  signed: unknown,
  secret: string,
  expect: { req: string; nowMs: number },
): Promise<EdgeCallVerdict> {
  const opened = await openReceipt(signed, secret)
  if (!opened.ok) return opened
  if (opened.payload.req !== expect.req) return { ok: false, code: 'receipt_mismatch' }
  const verdict = dated(opened.payload, expect.nowMs)
  return verdict.ok ? { ...verdict, payload: opened.payload } : verdict
}

/** An authenticated call's verdict, with the receipt it carried (so the route need not verify it again). */
export type EdgeCallVerdict =
  | (ReceiptVerdict & { ok: false })
  | (ReceiptVerdict & { ok: true; payload: EdgeReceiptPayload })

/**
 * `verifyEdgeReceipt` for a call `verifyEdgeCall` already authenticated: the same answer from its receipt's
 * payload, without a second MAC.
 */
export function boundReceipt(
  call: EdgeCallVerdict,
  expect: { sub: string; idk: string; nowMs: number },
): ReceiptVerdict {
  if (!call.ok) return call
  if (call.payload.sub !== expect.sub || call.payload.idk !== expect.idk) return { ok: false, code: 'receipt_mismatch' }
  return dated(call.payload, expect.nowMs)
}

type Opened =
  | { ok: true; payload: EdgeReceiptPayload }
  | { ok: false; code: 'receipt_malformed' | 'receipt_bad_signature' }

async function openReceipt(signed: unknown, secret: string): Promise<Opened> {
  const opened = await openEnvelope(RECEIPT_PREFIX, signed, secret)
  if (!opened.ok)
    return { ok: false, code: opened.reason === 'malformed' ? 'receipt_malformed' : 'receipt_bad_signature' }
  const parsed = EdgeReceiptPayload.safeParse(opened.json)
  return parsed.success ? { ok: true, payload: parsed.data } : { ok: false, code: 'receipt_malformed' }
}

function dated(r: EdgeReceiptPayload, nowMs: number): ReceiptVerdict {
  const receivedAt = Math.min(r.at, nowMs)
  const ageMs = nowMs - receivedAt
  if (ageMs > RECEIPT_MAX_AGE_MS) return { ok: false, code: 'receipt_stale' }
  return { ok: true, receivedAt, ageMs }
}

/**
 * The time a request is judged at: when the edge received it, while that is within RECEIPT_WINDOW_MS (the
 * edge is still waiting for the answer); later than that the edge has answered 503, and `nowMs` applies.
 */
export function honouredTime(verdict: ReceiptVerdict, nowMs: number): number {
  return verdict.ok && verdict.ageMs <= RECEIPT_WINDOW_MS ? verdict.receivedAt : nowMs
}

/**
 * The receipt header for a call to core as the edge makes it: for tools and tests that stand in for the edge
 * (drills, benchmarks). `path` may carry a query string; `sub` and `idk` matter for a redeem only.
 */
export async function edgeReceiptHeader(
  secret: string,
  method: string,
  path: string,
  bound: { sub?: string; idk?: string; at?: number } = {},
): Promise<Record<string, string>> {
  const req = `${method} ${new URL(path, 'http://core.invalid').pathname}`
  const at = bound.at ?? Date.now()
  return {
    [HEADER_EDGE_RECEIPT]: await signEdgeReceipt({ at, req, sub: bound.sub ?? '', idk: bound.idk ?? '' }, secret),
  }
}

/**
 * Adds the edge's receipt to the headers of a call to core's `/v1/*`, bound to its session and Idempotency-Key as
 * the edge binds it, unless the call carries one already (even an empty one): for the tools and tests that stand
 * in for the edge. Other paths are left alone.
 */
export async function signAsEdge(headers: Headers, secret: string, method: string, path: string): Promise<void> {
  if (!path.startsWith('/v1/') || headers.has(HEADER_EDGE_RECEIPT)) return
  const session = headers.get(HEADER_SESSION)
  const bound = { sub: session ? await shopperOf(session) : '', idk: headers.get(HEADER_IDEMPOTENCY_KEY) ?? '' }
  for (const [name, value] of Object.entries(await edgeReceiptHeader(secret, method, path, bound))) {
    headers.set(name, value)
  }
}
