/**
 * The waiting room's public, stateless pieces: queue tickets, the verifiable pre-queue shuffle, the
 * operator's steering knobs and the fairness report. Web Crypto only, so edge, room, token-issuer and
 * the benches share one implementation.
 *
 * - A queue ticket (`fgq1.…`) is signed by the edge when a shopper joins. It names the sale, the shard that
 *   holds the shopper's place, the place's sequence number there, whether it was a pre-queue join, and the
 *   shopper (hash of the session). Polls carry it back; the edge answers from it and the admission frontier
 *   without asking the Durable Object. It is bound to the session (`sub`) and cannot be forged or moved.
 * - The pre-queue shuffle: the room commits to `sha256(seed)` when the pre-queue opens and reveals `seed`
 *   at the start. A pre-queue shopper's place is `shuffleKey(seed, publicId)` (the id the public proof lists,
 *   contracts/fairness.ts), a number in [0, 1); everybody who joined after the start queues behind them first
 *   come, first served (order `1 + seq`).
 */
import { z } from 'zod'
import { FairnessJoin, PublicId } from './fairness.ts'
import { SaleId, ShopperId, TokenId } from './ids.ts'
import { openEnvelope, signEnvelope, tokenCrypto } from './token.ts'

export const TICKET_PREFIX = 'fgq1'
export const HEADER_TICKET = 'x-floodgate-ticket'
/** Cookie holding the ticket for one sale: `fg_q_<saleId>`. */
export const ticketCookie = (saleId: string) => `fg_q_${saleId.replace(/-/g, '_')}`

/**
 * `GET /api/sales/:saleId/status?waitMs=N`: a held poll. The edge keeps the request open up to `waitMs` (and
 * no longer than the refresh interval it would have suggested), re-reading its cached frontier as it refreshes,
 * and answers at once when the shopper is admitted or the sale sells out. Held answers suggest polling again
 * right away, so a shopper is nearly always inside a held request and hears news within about a second.
 */
export const STATUS_HOLD_MAX_MS = 25_000
export const StatusQuery = z
  .object({ waitMs: z.coerce.number().int().min(0).max(STATUS_HOLD_MAX_MS).optional() })
  .strict()
export type StatusQuery = z.infer<typeof StatusQuery>

export const QueueTicketPayload = z
  .object({
    typ: z.literal('qt'),
    sale: SaleId,
    shard: z.number().int().min(0).max(255),
    seq: z.number().int().min(1),
    /** Joined during the pre-queue: the place is decided by the shuffle at the start. */
    pre: z.boolean(),
    sub: ShopperId,
    /** Issued at, epoch ms. */
    iat: z.number().int().nonnegative(),
    /** The shopper's public id in the sale (contracts/fairness.ts), so a poll need not derive it again. */
    pid: PublicId.optional(),
  })
  .strict()
export type QueueTicketPayload = z.infer<typeof QueueTicketPayload>

export type TicketFailure =
  | 'ticket_malformed'
  | 'ticket_bad_signature'
  | 'ticket_wrong_sale'
  | 'ticket_session_mismatch'

/** Tickets get their own key, derived from the edge secret, so a ticket can never pass as a grant. */
const ticketKey = (secret: string) => `floodgate-ticket:${secret}`

export function signTicket(payload: Omit<QueueTicketPayload, 'typ'>, secret: string): Promise<string> {
  return signEnvelope(TICKET_PREFIX, QueueTicketPayload.parse({ typ: 'qt', ...payload }), ticketKey(secret))
}

/** Checks signature (constant-time), sale and session binding. */
export async function verifyTicket(
  signed: unknown,
  secret: string,
  expect: { saleId: string; shopper: string },
): Promise<{ ok: true; payload: QueueTicketPayload } | { ok: false; code: TicketFailure }> {
  const opened = await openEnvelope(TICKET_PREFIX, signed, ticketKey(secret))
  if (!opened.ok) {
    return { ok: false, code: opened.reason === 'malformed' ? 'ticket_malformed' : 'ticket_bad_signature' }
  }
  const parsed = QueueTicketPayload.safeParse(opened.json)
  if (!parsed.success) return { ok: false, code: 'ticket_malformed' }
  if (parsed.data.sale !== expect.saleId) return { ok: false, code: 'ticket_wrong_sale' }
  if (parsed.data.sub !== expect.shopper) return { ok: false, code: 'ticket_session_mismatch' }
  return { ok: true, payload: parsed.data }
}

// ---------------------------------------------------------------- verifiable shuffle

export function hex(bytes: ArrayBuffer | Uint8Array): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** A fresh shuffle seed: 32 random bytes, hex. */
export function newShuffleSeed(): string {
  return hex(crypto.getRandomValues(new Uint8Array(32)))
}

/** What the room publishes when the pre-queue opens: `sha256(seed)`, hex. */
export async function seedCommitment(seed: string): Promise<string> {
  return hex(await tokenCrypto().sha256(seed))
}

/**
 * A pre-queue shopper's place after the shuffle: the first 48 bits of `sha256(seed ":" publicId)` as a
 * fraction in [0, 1). Sorting the published join list by this key gives the admission order.
 */
export async function shuffleKey(seed: string, publicId: string): Promise<number> {
  const digest = await tokenCrypto().sha256(`${seed}:${publicId}`)
  let value = 0
  for (let i = 0; i < 6; i++) value = value * 256 + digest[i]!
  return value / 2 ** 48
}

/** Small, fast, deterministic 32-bit FNV-1a: picks the shard of a shopper or a token id. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

// ---------------------------------------------------------------- operator steering

export const RoomMode = z.enum(['open', 'paused', 'queue_all'])
export type RoomMode = z.infer<typeof RoomMode>

/**
 * Live changes to a running room (`PATCH /admin/sales/:saleId/room`). `paused`: nobody new is admitted and
 * no admission budget accrues; places are kept. `queue_all`: the emergency stop — as paused, and checkout
 * at the edge answers 503 with Retry-After until the room is opened again. `maxActive: null` lifts the cap.
 */
export const RoomSteer = z
  .object({
    admitPerMinute: z.number().int().min(1).max(6_000_000).optional(),
    maxActive: z.number().int().min(1).max(10_000_000).nullable().optional(),
    mode: RoomMode.optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'give at least one of admitPerMinute, maxActive, mode')
export type RoomSteer = z.infer<typeof RoomSteer>

// ---------------------------------------------------------------- fairness report

export const IssuanceEntry = z.object({
  shard: z.number().int(),
  /** The shopper id (itself a hash of the session; sessions never leave the edge). */
  shopper: ShopperId,
  /** The shopper's public id: how the public proof lists them. */
  publicId: PublicId,
  tid: TokenId,
  gen: z.number().int(),
  pre: z.boolean(),
  /** The shopper's order key: shuffle key in [0, 1) for pre-queue joins, 1 + seq after the start. */
  ord: z.number(),
  joinedAt: z.number().int(),
  admittedAt: z.number().int(),
})
export type IssuanceEntry = z.infer<typeof IssuanceEntry>

export const RoomReport = z.object({
  saleId: SaleId,
  shards: z.number().int(),
  startsAt: z.string(),
  commitment: z.string().nullable(),
  /** Revealed once the sale has started; null before. */
  seed: z.string().nullable(),
  /** Absent in reports from rooms that did not say: shuffle. */
  prequeueOrder: z.enum(['shuffle', 'fifo']).optional(),
  /** Tokens loaded, over every shard. */
  tokens: z.number().int().optional(),
  joined: z.number().int(),
  admitted: z.number().int(),
  /**
   * Everyone who joined during the pre-queue, per shard, in join order (the shuffle's input): shopper ids for
   * the operator, and the same places as the public proof lists them.
   */
  prequeue: z.array(z.object({ shard: z.number().int(), shoppers: z.array(ShopperId), joins: z.array(FairnessJoin) })),
  issuance: z.array(IssuanceEntry),
})
export type RoomReport = z.infer<typeof RoomReport>
