/**
 * Every request, response and event that crosses a process boundary in Floodgate.
 * Edge, waiting room, core, token-issuer and the benches all import from here.
 */
import { z } from 'zod'
import { JoinPolicy } from './account.ts'
import { PublicId } from './fairness.ts'
import { OrderId, SaleId, ShopperId, TokenId } from './ids.ts'

export const HEADER_SESSION = 'x-floodgate-session'
/**
 * Sent by apps and scripts (any value, e.g. their name) on state-changing shopper requests: a header no HTML form
 * can send, so the edge knows the request is not a cross-site form post (edge/middleware/same-origin).
 */
export const HEADER_CLIENT = 'x-floodgate-client'
export const HEADER_IDEMPOTENCY_KEY = 'idempotency-key'
export const SESSION_COOKIE = 'fg_session'
/** Largest JSON body any shopper-facing endpoint accepts. */
export const MAX_BODY_BYTES = 8 * 1024
/** Largest JSON body an admin endpoint accepts (token batches). */
export const MAX_ADMIN_BODY_BYTES = 2 * 1024 * 1024
export const MAX_TOKENS_PER_BATCH = 5000

const isoDate = z.iso.datetime({ offset: true })

// ---------------------------------------------------------------- sales (core admin API)

export const CreateSaleRequest = z
  .object({
    saleId: SaleId,
    sku: z.string().min(1).max(64),
    name: z.string().min(1).max(200),
    priceCents: z.number().int().min(0).max(100_000_000),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
      .default('USD'),
    stock: z.number().int().min(1).max(1_000_000),
    perShopperLimit: z.number().int().min(1).max(100).default(1),
    /** How long an admitted shopper has to redeem (seed 003 §8.2: 5 minutes). */
    tokenTtlSeconds: z.number().int().min(5).max(3600).default(300),
    /** How long a redeemed unit stays held while payment settles before it is released. */
    holdTtlSeconds: z.number().int().min(5).max(3600).default(300),
    startsAt: isoDate,
  })
  .strict()
export type CreateSaleRequest = z.input<typeof CreateSaleRequest>
export type SaleConfig = z.output<typeof CreateSaleRequest>

/** The operator's checkout hold, kept by core (`PUT /admin/sales/:saleId/checkout`; token-issuer sets it with queue_all). */
export const CheckoutHoldRequest = z.object({ held: z.boolean() }).strict()
export const CheckoutHold = z.object({ saleId: z.string(), checkoutHeld: z.boolean() })
export type CheckoutHold = z.infer<typeof CheckoutHold>

export const Sale = z.object({
  ...CreateSaleRequest.shape,
  startsAt: z.string(),
  createdAt: z.string(),
})
export type Sale = z.infer<typeof Sale>

/** Public, cacheable view of a sale (catalog page, waiting page header). */
export const PublicSale = z.object({
  saleId: SaleId,
  sku: z.string(),
  name: z.string(),
  priceCents: z.number().int(),
  currency: z.string(),
  stock: z.number().int(),
  available: z.number().int(),
  sold: z.number().int(),
  startsAt: z.string(),
})
export type PublicSale = z.infer<typeof PublicSale>

/** Units of one sale, from Redis and from Postgres. `ok` = every identity holds. */
export const InvariantReport = z.object({
  saleId: SaleId,
  stock: z.number().int(),
  redis: z.object({
    available: z.number().int(),
    held: z.number().int(),
    sold: z.number().int(),
  }),
  postgres: z.object({
    confirmed: z.number().int(),
    pending: z.number().int(),
    failed: z.number().int(),
    soldCounter: z.number().int(),
    tokensWithTwoConfirmedOrders: z.number().int(),
    shoppersOverLimit: z.number().int(),
  }),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })),
  ok: z.boolean(),
})
export type InvariantReport = z.infer<typeof InvariantReport>

// ---------------------------------------------------------------- redeem and orders (core public API)

export const RedeemRequest = z
  .object({
    token: z.string().min(1).max(1024),
    grant: z.string().min(1).max(1024),
    /** A gateway payment method reference (Stripe style, e.g. `pm_card_visa`). Never card data. */
    paymentMethod: z
      .string()
      .regex(/^[A-Za-z0-9_]{3,100}$/, 'must be a payment method id such as pm_card_visa')
      .default('pm_card_visa'),
  })
  .strict()
export type RedeemRequest = z.input<typeof RedeemRequest>

export const OrderStatus = z.enum(['pending', 'confirmed', 'failed'])
export type OrderStatus = z.infer<typeof OrderStatus>

export const RedeemResponse = z.object({
  orderId: OrderId,
  saleId: SaleId,
  /** `pending` for a new order; a replay answers the order as it stands now. */
  status: OrderStatus,
  /** True when this exact redemption was seen before (same key or same token): nothing new was reserved. */
  replayed: z.boolean(),
})
export type RedeemResponse = z.infer<typeof RedeemResponse>

/**
 * `GET /v1/orders/:orderId?waitMs=5000` holds the answer until the order settles or the time is up, so a
 * shopper waits with one request instead of polling. The edge waits this much longer for core on such a call.
 */
export const ORDER_WAIT_MAX_MS = 8_000
export const OrderQuery = z
  .object({ waitMs: z.coerce.number().int().min(0).max(ORDER_WAIT_MAX_MS).optional() })
  .strict()
export type OrderQuery = z.infer<typeof OrderQuery>

/** `GET /admin/sales/:saleId/orders?status&cursor&limit` (operators): a sale's orders by id; `next` is the cursor. */
export const SaleOrdersQuery = z
  .object({
    status: OrderStatus.optional(),
    cursor: OrderId.optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  })
  .strict()
export const SaleOrders = z.object({
  orders: z.array(
    z.object({ orderId: OrderId, tid: TokenId, gen: z.number().int(), status: OrderStatus, createdAt: z.string() }),
  ),
  next: z.string().nullable(),
})
export type SaleOrders = z.infer<typeof SaleOrders>

export const Order = z.object({
  orderId: OrderId,
  /** The drop's sale; null for an everyday (cart) order. */
  saleId: SaleId.nullable(),
  status: OrderStatus,
  amountCents: z.number().int(),
  currency: z.string(),
  failureReason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** A cart order's lines, at the prices of its quote. */
  lines: z
    .array(
      z.object({
        sku: z.string(),
        name: z.string(),
        quantity: z.number().int(),
        unitPriceCents: z.number().int(),
        currency: z.string(),
      }),
    )
    .optional(),
})
export type Order = z.infer<typeof Order>

// ---------------------------------------------------------------- waiting room (edge)

/** The room's default cap on places per client network: a household or an office, not a botnet's /64. */
export const DEFAULT_MAX_PLACES_PER_NETWORK = 8

export const RoomConfig = z
  .object({
    saleId: SaleId,
    startsAt: isoDate,
    /** New shoppers admitted per minute (Cloudflare's new_users_per_minute). */
    admitPerMinute: z.number().int().min(1).max(6_000_000),
    /** Grant lifetime: how long an admitted shopper has to redeem. */
    tokenTtlSeconds: z.number().int().min(5).max(3600).default(300),
    /** Most shoppers holding a grant at once (Cloudflare's total_active_users); absent: no cap. */
    maxActive: z.number().int().min(1).max(10_000_000).optional(),
    /** Durable Objects the line and the token pool are spread over; fixed once tokens are loaded. */
    shards: z.number().int().min(1).max(64).default(1),
    /**
     * Order of the shoppers who joined before `startsAt`: `shuffle` (default) places them in a random order
     * at the start, from a seed committed to in advance; `fifo` keeps join order. Later joins are always FIFO.
     */
    prequeueOrder: z.enum(['shuffle', 'fifo']).default('shuffle'),
    /**
     * Places in line one client network (an IPv4 address, an IPv6 /64) may hold: absent, DEFAULT_MAX_PLACES_PER_NETWORK;
     * 0, no cap. With a cap, places of one network share a shard (one object counts them).
     */
    maxPlacesPerIp: z.number().int().min(0).max(100_000).optional(),
    /**
     * Who may join: `anonymous` (any session; also when absent), `accounts` (signed in), or `verified` (accounts
     * whose email was verified before the pre-queue opened, i.e. before the room was first configured).
     */
    joinPolicy: JoinPolicy.optional(),
  })
  .strict()
export type RoomConfig = z.input<typeof RoomConfig>

export const LoadTokensRequest = z
  .object({
    tokens: z.array(z.string().min(1).max(1024)).min(1).max(MAX_TOKENS_PER_BATCH),
  })
  .strict()
export type LoadTokensRequest = z.infer<typeof LoadTokensRequest>

export const LoadTokensResponse = z.object({
  saleId: SaleId,
  loaded: z.number().int(),
  duplicates: z.number().int(),
  total: z.number().int(),
})
export type LoadTokensResponse = z.infer<typeof LoadTokensResponse>

/**
 * not_started: joined before the sale opened; waiting: in line; admitted: holds a token + grant;
 * expired: was admitted but let the grant lapse (may join again, at the back); sold_out: every unit is sold.
 */
export const RoomState = z.enum(['not_started', 'waiting', 'admitted', 'expired', 'sold_out'])
export type RoomState = z.infer<typeof RoomState>

/** What a shopper sees when joining or polling. */
export const RoomStatus = z.object({
  saleId: SaleId,
  state: RoomState,
  /** 1-based place in line while waiting. */
  position: z.number().int().nullable(),
  ahead: z.number().int().nullable(),
  /** Units not yet sold or held: what can still come to this shopper. */
  unitsLeft: z.number().int(),
  /** When to ask again, milliseconds. */
  refreshMs: z.number().int(),
  token: z.string().nullable(),
  grant: z.string().nullable(),
  grantExpiresAt: z.number().int().nullable(),
  /** Estimated wait in seconds while waiting (null when unknown, e.g. before the shuffle). */
  etaSeconds: z.number().int().nullable().optional(),
  /** Signed queue ticket (on join): send it back as `x-floodgate-ticket` (or keep the cookie) when polling. */
  ticket: z.string().optional(),
  /**
   * Present while the operator holds admission: `paused` (nobody new is admitted, places are kept) or
   * `queue_all` (the emergency stop: checkout is held too). No ETA is given then (`etaSeconds` null).
   */
  admission: z.enum(['paused', 'queue_all']).optional(),
  /**
   * Admitted shoppers: the order their grant already has (its id follows from token and generation), so a
   * client whose redeem answer was lost finds its order without redeeming again. Absent: none yet, or unknown.
   */
  order: z.object({ orderId: OrderId, status: OrderStatus }).optional(),
  /**
   * The shopper's public id in this sale (contracts/fairness.ts): how they appear in the public fairness proof
   * (`GET /api/sales/:saleId/fairness/places/:publicId` shows their place and why).
   */
  publicId: PublicId.optional(),
})
export type RoomStatus = z.infer<typeof RoomStatus>

export const RoomStats = z.object({
  saleId: SaleId,
  configured: z.boolean(),
  tokensLoaded: z.number().int(),
  available: z.number().int(),
  granted: z.number().int(),
  redeemed: z.number().int(),
  sold: z.number().int(),
  queued: z.number().int(),
  admitted: z.number().int(),
  recycled: z.number().int(),
  shards: z.number().int().optional(),
  mode: z.enum(['open', 'paused', 'queue_all']).optional(),
  admitPerMinute: z.number().int().nullable().optional(),
  maxActive: z.number().int().nullable().optional(),
  /** sha256 of the pre-queue shuffle seed, published when the pre-queue opens. */
  commitment: z.string().nullable().optional(),
  /** The seed itself, revealed once the sale has started. */
  seed: z.string().nullable().optional(),
})
export type RoomStats = z.infer<typeof RoomStats>

// ---------------------------------------------------------------- edge <-> core, token lifecycle

export const TokenRef = z.object({ tid: TokenId, gen: z.number().int().min(1) }).strict()
export type TokenRef = z.infer<typeof TokenRef>

/** Core -> room: what finally happened to a redeemed token. `returned` puts the unit back in line. */
export const TokenOutcome = z
  .object({ tid: TokenId, gen: z.number().int().min(1), outcome: z.enum(['sold', 'returned']) })
  .strict()
export type TokenOutcome = z.infer<typeof TokenOutcome>

export const TokenOutcomesRequest = z.object({ outcomes: z.array(TokenOutcome).min(1).max(1000) }).strict()
export type TokenOutcomesRequest = z.infer<typeof TokenOutcomesRequest>

/**
 * Room -> core, for grants past their expiry: core atomically fences each (tid, gen) so a late
 * redeem can no longer succeed, and says whether the shopper redeemed in time.
 */
export const ExpireGrantsRequest = z.object({ grants: z.array(TokenRef).min(1).max(1000) }).strict()
export type ExpireGrantsRequest = z.infer<typeof ExpireGrantsRequest>

export const ExpireGrantsResponse = z.object({
  results: z.array(z.object({ tid: TokenId, gen: z.number().int(), state: z.enum(['voided', 'redeemed']) })),
})
export type ExpireGrantsResponse = z.infer<typeof ExpireGrantsResponse>

// ---------------------------------------------------------------- events and jobs (BullMQ)

export const CheckoutJob = z.object({
  orderId: OrderId,
  saleId: SaleId,
  tid: TokenId,
  gen: z.number().int().min(1),
  shopper: ShopperId,
  paymentMethod: z.string(),
  amountCents: z.number().int(),
  currency: z.string(),
  idempotencyKey: z.string(),
  redeemedAt: z.number().int(),
})
export type CheckoutJob = z.infer<typeof CheckoutJob>

export const OrderEvent = z.object({
  type: z.enum(['order.confirmed', 'order.failed', 'order.refunded']),
  orderId: OrderId,
  saleId: SaleId,
  at: z.string(),
  reason: z.string().nullable(),
  /** What the event is about when an order has several of the type (a refund id); '' otherwise. */
  ref: z.string().default(''),
  amountCents: z.number().int().optional(),
})
export type OrderEvent = z.infer<typeof OrderEvent>

/** A notification job: one order event, for one shopper, on the notification queue. */
export const NotificationJob = z.object({ event: OrderEvent, recipient: z.string().min(1) })
export type NotificationJob = z.infer<typeof NotificationJob>
/** The notifications of one settlement batch, delivered by one job (each still at most once per provider). */
export const NotificationBatchJob = z.object({ notifications: z.array(NotificationJob).min(1).max(1000) })
export type NotificationBatchJob = z.infer<typeof NotificationBatchJob>

// ---------------------------------------------------------------- payments (core admin API)

/**
 * `POST /admin/orders/:orderId/refunds` with an Idempotency-Key header (same key = same refund).
 * Without `amountCents` the whole remaining captured amount is refunded.
 */
export const RefundRequest = z
  .object({
    amountCents: z.number().int().min(1).max(100_000_000).optional(),
    reason: z
      .enum(['requested_by_customer', 'cancellation', 'return', 'duplicate', 'fraudulent'])
      .default('requested_by_customer'),
  })
  .strict()
export type RefundRequest = z.input<typeof RefundRequest>

export const Refund = z.object({
  refundId: z.string(),
  orderId: OrderId,
  amountCents: z.number().int(),
  reason: z.string(),
  /** pending: recorded, the gateway has not confirmed it yet (reconciliation retries it with the same key). */
  status: z.enum(['pending', 'succeeded', 'failed']),
  paymentStatus: z.string(),
  refundedCents: z.number().int(),
  createdAt: z.string(),
})
export type Refund = z.infer<typeof Refund>

export const RECONCILE_JOBS = [
  'stuck-sagas',
  'expired-holds',
  'pending-payments',
  'orphan-payments',
  'unpaid-orders',
  'pending-refunds',
  'redis-counters',
] as const
export const ReconcileJobName = z.enum(RECONCILE_JOBS)
export type ReconcileJobName = z.infer<typeof ReconcileJobName>

/** What one reconciliation run found and fixed (`POST /admin/reconcile/:job`, and each repeatable job's result). */
export const ReconcileReport = z.object({
  job: z.string(),
  startedAt: z.string(),
  ms: z.number(),
  examined: z.number().int(),
  fixed: z.number().int(),
  /** One line per thing changed: { orderId|saleId, action, detail }. */
  actions: z.array(z.object({ id: z.string(), action: z.string(), detail: z.string().optional() })),
  /** Left alone this time (gateway unreachable, job still live). */
  skipped: z.number().int(),
})
export type ReconcileReport = z.infer<typeof ReconcileReport>
