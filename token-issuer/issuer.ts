/**
 * The operator's side of a sale: create it in core, configure its waiting room on the edge, and load one
 * signed purchase token per unit of stock. `cli.ts` is a thin shell around this module; the demo and the
 * tests import it directly.
 *
 * Re-running `createSale` after a crash is safe: core answers 200 for the same sale, and token ids are
 * derived from (TOKEN_SECRET, saleId, index), so the same tokens are sent again and the room counts them
 * as duplicates. It never mints more than `stock` tokens.
 */
import { createHmac } from 'node:crypto'
import { z } from 'zod'
import {
  CreateSaleRequest,
  ErrorBody,
  InvariantReport,
  SaleOrders,
  LoadTokensResponse,
  MAX_TOKENS_PER_BATCH,
  RoomConfig,
  RoomStats,
  RoomReport,
  RoomSteer,
  CheckoutHold,
  Sale,
  signPurchaseToken,
  type LoadTokensRequest,
  ReconcileReport,
  type ReconcileJobName,
} from '../contracts/index.ts'
// Only the zod schema of core's settings: config.ts imports nothing but zod, so no core runtime comes along.
import { CoreConfig } from '../core/config.ts'

// ---------------------------------------------------------------- configuration

const CORE_SETTINGS = CoreConfig.shape
/** core's defaults are HOST 127.0.0.1 and PORT 3000. */
const DEFAULT_CORE_URL = 'http://127.0.0.1:3000'
const SECRET_NAMES = ['CORE_ADMIN_TOKEN', 'EDGE_ADMIN_TOKEN', 'TOKEN_SECRET'] as const

/**
 * What the issuer reads from the environment. Secrets and EDGE_URL reuse core's own field schemas, so
 * their development defaults are the same values core uses (and, as in core, refused in production).
 */
export const IssuerConfig = z
  .object({
    NODE_ENV: CORE_SETTINGS.NODE_ENV,
    CORE_URL: z.url({ protocol: /^https?$/ }).default(DEFAULT_CORE_URL),
    CORE_ADMIN_TOKEN: CORE_SETTINGS.CORE_ADMIN_TOKEN,
    EDGE_URL: CORE_SETTINGS.EDGE_URL,
    EDGE_ADMIN_TOKEN: CORE_SETTINGS.EDGE_ADMIN_TOKEN,
    TOKEN_SECRET: CORE_SETTINGS.TOKEN_SECRET,
  })
  .superRefine((c, ctx) => {
    if (c.NODE_ENV !== 'production') return
    for (const key of SECRET_NAMES) {
      if (c[key].startsWith('dev-only-'))
        ctx.addIssue({ code: 'custom', path: [key], message: 'must be set in production' })
    }
  })
export type IssuerConfig = z.infer<typeof IssuerConfig>

export class IssuerConfigError extends Error {
  constructor(readonly issues: Array<{ variable: string; message: string }>) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`)
    this.name = 'IssuerConfigError'
  }
}

/** Reads and checks the issuer's environment. Empty variables count as unset. Throws `IssuerConfigError`. */
export function issuerConfig(env: Record<string, string | undefined> = process.env): IssuerConfig {
  const parsed = IssuerConfig.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')))
  if (!parsed.success) {
    throw new IssuerConfigError(
      parsed.error.issues.map((i) => ({ variable: i.path.map(String).join('.'), message: i.message })),
    )
  }
  return parsed.data
}

// ---------------------------------------------------------------- errors

export type Service = 'core' | 'edge'

/**
 * A failed call to core or the edge. `code` is the service's error code (`sale_exists`, `unauthorized`, …)
 * or one of the issuer's own: `unreachable`, `timeout`, `bad_response`, `token_count_mismatch`.
 * `status` is the HTTP status of the error response, or null when there was none.
 */
export class IssuerError extends Error {
  constructor(
    readonly service: Service,
    readonly status: number | null,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message)
    this.name = 'IssuerError'
  }

  toJSON(): { service: Service; status: number | null; code: string; message: string; field?: string } {
    const { service, status, code, message, field } = this
    return field === undefined ? { service, status, code, message } : { service, status, code, message, field }
  }
}

// ---------------------------------------------------------------- HTTP

const REQUEST_TIMEOUT_MS = 30_000

export interface Endpoint {
  service: Service
  baseUrl: string
  token: string
  urlVariable: 'CORE_URL' | 'EDGE_URL'
  tokenVariable: 'CORE_ADMIN_TOKEN' | 'EDGE_ADMIN_TOKEN'
}

export const coreEndpoint = (cfg: IssuerConfig): Endpoint => ({
  service: 'core',
  baseUrl: cfg.CORE_URL,
  token: cfg.CORE_ADMIN_TOKEN,
  urlVariable: 'CORE_URL',
  tokenVariable: 'CORE_ADMIN_TOKEN',
})
const edgeEndpoint = (cfg: IssuerConfig): Endpoint => ({
  service: 'edge',
  baseUrl: cfg.EDGE_URL,
  token: cfg.EDGE_ADMIN_TOKEN,
  urlVariable: 'EDGE_URL',
  tokenVariable: 'EDGE_ADMIN_TOKEN',
})

function endpointUrl(baseUrl: string, path: string): URL {
  return new URL(path.replace(/^\//, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`)
}

function salePath(saleId: string, rest = ''): string {
  return `admin/sales/${encodeURIComponent(saleId)}${rest}`
}

/** Network-level failure: names the URL and the variable that points at it. */
function transportError(ep: Endpoint, url: URL, error: unknown): IssuerError {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return new IssuerError(
      ep.service,
      null,
      'timeout',
      `${ep.service} at ${url.origin} did not answer within ${REQUEST_TIMEOUT_MS / 1000}s`,
    )
  }
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined
  const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))
  return new IssuerError(
    ep.service,
    null,
    'unreachable',
    `cannot reach ${ep.service} at ${ep.baseUrl} (${reason}); is it running? Set ${ep.urlVariable} to its address.`,
  )
}

export async function call<S extends z.ZodType>(
  ep: Endpoint,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH',
  path: string,
  schema: S,
  body?: unknown,
): Promise<{ status: number; data: z.output<S> }> {
  const url = endpointUrl(ep.baseUrl, path)
  let response: Response
  let text: string
  try {
    response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${ep.token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    text = await response.text()
  } catch (error) {
    throw transportError(ep, url, error)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  if (!response.ok) {
    const parsed = ErrorBody.safeParse(json)
    if (!parsed.success) {
      throw new IssuerError(
        ep.service,
        response.status,
        `http_${response.status}`,
        `${method} ${url.pathname} answered ${response.status}: ${text.slice(0, 200)}`,
      )
    }
    const { code, message, field } = parsed.data.error
    const hint = code === 'unauthorized' ? ` (check ${ep.tokenVariable})` : ''
    throw new IssuerError(ep.service, response.status, code, `${message}${hint}`, field)
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    throw new IssuerError(
      ep.service,
      response.status,
      'bad_response',
      `${method} ${url.pathname} returned an unexpected body: ${parsed.error.issues[0]?.message ?? 'not JSON'}`,
    )
  }
  return { status: response.status, data: parsed.data }
}

// ---------------------------------------------------------------- purchase tokens

/**
 * The id of token number `index` of a sale: base64url(HMAC-SHA256(TOKEN_SECRET, `${saleId}:${index}`)),
 * first 22 chars (132 bits). Deterministic, so a re-run re-sends exactly the same tokens.
 */
export function tokenId(secret: string, saleId: string, index: number): string {
  return createHmac('sha256', secret).update(`${saleId}:${index}`).digest('base64url').slice(0, 22)
}

/** Signed purchase tokens number `from` (inclusive) to `to` (exclusive); `iat` is the sale's createdAt, in seconds. */
export function purchaseTokens(
  secret: string,
  sale: Pick<Sale, 'saleId' | 'createdAt'>,
  from: number,
  to: number,
): Promise<string[]> {
  const iat = Math.floor(Date.parse(sale.createdAt) / 1000)
  if (!Number.isFinite(iat)) throw new Error(`sale ${sale.saleId} has no valid createdAt (${sale.createdAt})`)
  const signing: Promise<string>[] = []
  for (let index = from; index < to; index++) {
    signing.push(signPurchaseToken({ sale: sale.saleId, tid: tokenId(secret, sale.saleId, index), iat }, secret))
  }
  return Promise.all(signing)
}

// ---------------------------------------------------------------- core and edge calls

/** The sale as core stores it, or null if core has no such sale. */
export async function getSale(cfg: IssuerConfig, saleId: string): Promise<Sale | null> {
  try {
    return (await call(coreEndpoint(cfg), 'GET', salePath(saleId), Sale)).data
  } catch (error) {
    if (error instanceof IssuerError && error.code === 'sale_not_found') return null
    throw error
  }
}

/** Core's invariant report for one sale (Redis counters and Postgres orders). */
export async function saleInvariant(cfg: IssuerConfig, saleId: string): Promise<InvariantReport> {
  return (await call(coreEndpoint(cfg), 'GET', salePath(saleId, '/invariant'), InvariantReport)).data
}

/** Every order of a sale (optionally of one status), read page by page from core's admin API. */
export async function saleOrders(cfg: IssuerConfig, saleId: string, status?: 'pending' | 'confirmed' | 'failed') {
  const out: SaleOrders['orders'] = []
  let cursor: string | null = null
  do {
    const query = new URLSearchParams({ ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) })
    const page: SaleOrders = (await call(coreEndpoint(cfg), 'GET', salePath(saleId, `/orders?${query}`), SaleOrders))
      .data
    out.push(...page.orders)
    cursor = page.next
  } while (cursor)
  return out
}

/** Runs one of core's reconciliation jobs now and returns what it found and fixed. */
export async function reconcile(cfg: IssuerConfig, job: ReconcileJobName): Promise<ReconcileReport> {
  return (await call(coreEndpoint(cfg), 'POST', `/admin/reconcile/${job}`, ReconcileReport, {})).data
}

/** The waiting room's counters for one sale (an unconfigured room reports `configured: false`). */
export async function roomStats(cfg: IssuerConfig, saleId: string): Promise<RoomStats> {
  return (await call(edgeEndpoint(cfg), 'GET', salePath(saleId, '/room'), RoomStats)).data
}

/** Live steering of a running room (rate, max active, pause / resume / queue-all); returns the room's stats. */
export async function steerRoom(cfg: IssuerConfig, saleId: string, steer: RoomSteer): Promise<RoomStats> {
  const parsed = RoomSteer.parse(steer)
  // queue_all holds checkout in core too (the edge holds it from its room snapshot; core whoever calls it):
  // held in core before the room says so, released in core after the room has reopened.
  const held = parsed.mode === undefined ? undefined : parsed.mode === 'queue_all'
  if (held === true) await holdCheckout(cfg, saleId, true)
  const stats = (await call(edgeEndpoint(cfg), 'PATCH', salePath(saleId, '/room'), RoomStats, parsed)).data
  if (held === false) await holdCheckout(cfg, saleId, false)
  return stats
}

/** Holds or releases checkout in core (`PUT /admin/sales/:saleId/checkout`). */
export async function holdCheckout(cfg: IssuerConfig, saleId: string, held: boolean): Promise<CheckoutHold> {
  return (await call(coreEndpoint(cfg), 'PUT', salePath(saleId, '/checkout'), CheckoutHold, { held })).data
}

/** The room's published evidence: commitment, seed, pre-queue join list, issuance log. */
export async function roomReport(cfg: IssuerConfig, saleId: string): Promise<RoomReport> {
  return (await call(edgeEndpoint(cfg), 'GET', salePath(saleId, '/room/report'), RoomReport)).data
}

export interface SaleStatus {
  /** When this status was read, ISO 8601. */
  at: string
  sale: Sale
  invariant: InvariantReport
  room: RoomStats
}

/** Core's sale and invariant report together with the edge's room stats, read in parallel. */
export async function saleStatus(cfg: IssuerConfig, saleId: string): Promise<SaleStatus> {
  const core = coreEndpoint(cfg)
  const [sale, invariant, room] = await Promise.all([
    call(core, 'GET', salePath(saleId), Sale).then((r) => r.data),
    saleInvariant(cfg, saleId),
    roomStats(cfg, saleId),
  ])
  return { at: new Date().toISOString(), sale, invariant, room }
}

// ---------------------------------------------------------------- createSale

/** A sale as core takes it, plus the waiting room's admission rate (seed 003 §8.2: 1000 per minute). */
export const CreateSaleInput = CreateSaleRequest.extend({
  admitPerMinute: RoomConfig.shape.admitPerMinute.default(1000),
  /** Durable Objects the room's line and token pool are spread over (fixed once tokens are loaded). */
  shards: RoomConfig.shape.shards,
  maxPlacesPerIp: RoomConfig.shape.maxPlacesPerIp,
})
export type CreateSaleInput = z.input<typeof CreateSaleInput>

export type CreateSalePhase = 'sale' | 'room' | 'tokens' | 'verify' | 'done'

export interface CreateSaleProgress {
  phase: CreateSalePhase
  /** Tokens to load: the sale's stock (0 until core has answered). */
  total: number
  generated: number
  /** Tokens the room has acknowledged, new or duplicate. */
  uploaded: number
  loaded: number
  duplicates: number
}

export interface CreateSaleOptions {
  onProgress?: (progress: CreateSaleProgress) => void
  /** Tokens per upload, 1..MAX_TOKENS_PER_BATCH (default the maximum). */
  batchSize?: number
}

/** The room config as the edge stores it; lenient (not strict) so the edge may add fields later. */
export const StoredRoomConfig = z.object(RoomConfig.shape)
export type StoredRoomConfig = z.output<typeof StoredRoomConfig>

export interface CreateSaleResult {
  sale: Sale
  /** True when core created the sale now (201); false when it already existed with the same settings (200). */
  created: boolean
  /** The room config the edge stored. */
  roomConfig: StoredRoomConfig
  /** The room's counters after the upload. */
  room: RoomStats
  tokensGenerated: number
  /** Tokens the room accepted as new during THIS run; `room.tokensLoaded` is the room's total. */
  tokensLoaded: number
  /** Tokens the room already had (re-runs). */
  duplicates: number
  seconds: number
}

/**
 * Creates a sale end to end, idempotently:
 * 1. POST core /admin/sales (201 new, 200 same sale again, 409 `sale_exists` for a different sale: nothing else happens);
 * 2. PUT the edge room config (startsAt, admitPerMinute, shards, tokenTtlSeconds from the sale);
 * 3. + 4. generates the sale's `stock` purchase tokens batch by batch and uploads each batch while the next is signed;
 * 5. checks that the room holds exactly `stock` tokens, else throws `token_count_mismatch`.
 *
 * Throws `IssuerError` for anything a service refused or could not answer, a ZodError for invalid input.
 */
export async function createSale(
  cfg: IssuerConfig,
  input: CreateSaleInput,
  { onProgress, batchSize = MAX_TOKENS_PER_BATCH }: CreateSaleOptions = {},
): Promise<CreateSaleResult> {
  const started = performance.now()
  const { admitPerMinute, shards, maxPlacesPerIp, ...request } = CreateSaleInput.parse(input)
  const size = Math.max(1, Math.min(MAX_TOKENS_PER_BATCH, Math.floor(batchSize)))
  const progress: CreateSaleProgress = { phase: 'sale', total: 0, generated: 0, uploaded: 0, loaded: 0, duplicates: 0 }
  const report = (phase: CreateSalePhase) => onProgress?.({ ...progress, phase })
  const core = coreEndpoint(cfg)
  const edge = edgeEndpoint(cfg)

  // 1. the sale, in core (which also seeds its Redis counters)
  report('sale')
  const created = await call(core, 'POST', 'admin/sales', Sale, request)
  const sale = created.data
  progress.total = sale.stock

  // 2. the waiting room
  report('room')
  const roomConfig: RoomConfig = {
    saleId: sale.saleId,
    startsAt: sale.startsAt,
    admitPerMinute,
    tokenTtlSeconds: sale.tokenTtlSeconds,
    shards,
    ...(maxPlacesPerIp === undefined ? {} : { maxPlacesPerIp }),
  }
  const stored = await call(edge, 'PUT', salePath(sale.saleId, '/room'), StoredRoomConfig, roomConfig)

  // 3. + 4. tokens: sign batch n+1 while batch n uploads
  report('tokens')
  const upload = async (tokens: string[]) => {
    const body: LoadTokensRequest = { tokens }
    const { data } = await call(edge, 'POST', salePath(sale.saleId, '/tokens'), LoadTokensResponse, body)
    progress.uploaded += tokens.length
    progress.loaded += data.loaded
    progress.duplicates += data.duplicates
    report('tokens')
  }
  let uploading: Promise<void> = Promise.resolve()
  for (let from = 0; from < sale.stock; from += size) {
    const tokens = await purchaseTokens(cfg.TOKEN_SECRET, sale, from, Math.min(sale.stock, from + size))
    progress.generated += tokens.length
    report('tokens')
    await uploading
    uploading = upload(tokens)
    uploading.catch(() => {}) // awaited on the next turn; this only keeps Node from calling it unhandled meanwhile
  }
  await uploading

  // 5. the room must hold exactly one token per unit
  report('verify')
  const room = await roomStats(cfg, sale.saleId)
  if (room.tokensLoaded !== sale.stock) {
    throw new IssuerError(
      'edge',
      null,
      'token_count_mismatch',
      `the room for sale ${sale.saleId} holds ${room.tokensLoaded} tokens but the sale has ${sale.stock} units` +
        (room.tokensLoaded > sale.stock
          ? ' (it may hold tokens from an earlier sale with this id, or signed with another TOKEN_SECRET)'
          : ''),
    )
  }
  report('done')
  return {
    sale,
    created: created.status === 201,
    roomConfig: stored.data,
    room,
    tokensGenerated: progress.generated,
    tokensLoaded: progress.loaded,
    duplicates: progress.duplicates,
    seconds: Math.round(performance.now() - started) / 1000,
  }
}
