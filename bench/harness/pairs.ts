/**
 * Pre-minted redemptions: what the token-issuer and the waiting room would hand N admitted shoppers
 * (a purchase token, a grant bound to the shopper's session, an Idempotency-Key), signed with core's
 * secrets so the load hits core's redeem path directly without going through the room.
 * Same idea as test/support/tokens.ts `admittedShopper`, built as ready-to-send requests.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import {
  GRANT_PREFIX,
  HEADER_EDGE_RECEIPT,
  HEADER_IDEMPOTENCY_KEY,
  HEADER_SESSION,
  RECEIPT_PREFIX,
  TOKEN_PREFIX,
} from '../../contracts/index.ts'
import type { BenchRequest } from './load.ts'

/**
 * Synchronous twins of contracts' `signPurchaseToken` / `signGrant` / `shopperOf` on node:crypto: the
 * same bytes (a test pins them to the Web Crypto versions), about 20x faster, so minting 100,000s of
 * redemptions takes a second instead of half a minute.
 */
function signSync(prefix: string, payload: object, secret: string): string {
  const body = `${prefix}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
}
export const signPurchaseTokenSync = (p: { sale: string; tid: string; iat: number }, secret: string) =>
  signSync(TOKEN_PREFIX, { typ: 'pt', sale: p.sale, tid: p.tid, iat: p.iat }, secret)
export const signGrantSync = (
  p: { sale: string; tid: string; gen: number; sub: string; iat: number; exp: number },
  secret: string,
) =>
  signSync(
    GRANT_PREFIX,
    { typ: 'gr', sale: p.sale, tid: p.tid, gen: p.gen, sub: p.sub, iat: p.iat, exp: p.exp },
    secret,
  )
export const shopperOfSync = (session: string) =>
  createHash('sha256').update(`floodgate-session:${session}`).digest('base64url').slice(0, 22)
/** The edge's receipt (contracts/edge-receipt.ts), signed as the request leaves: core answers /v1 only with one. */
export const signEdgeReceiptSync = (p: { at: number; req: string; sub: string; idk: string }, secret: string) =>
  signSync(RECEIPT_PREFIX, { typ: 'er', at: p.at, req: p.req, sub: p.sub, idk: p.idk }, secret)
const randomIdSync = (bytes = 16) => randomBytes(bytes).toString('base64url')

export interface Redemption {
  session: string
  token: string
  grant: string
  idempotencyKey: string
}

export interface MintOptions {
  tokenSecret: string
  grantSecret: string
  saleId: string
  count: number
  /** Grant lifetime; long enough to outlive the run. Default 30 minutes. */
  ttlMs?: number
}

/** Mints `count` redeemable token + grant pairs, each for its own shopper session. */
export function mintRedemptions({
  tokenSecret,
  grantSecret,
  saleId,
  count,
  ttlMs = 30 * 60_000,
}: MintOptions): Redemption[] {
  const out: Redemption[] = new Array(count)
  const iat = Math.floor(Date.now() / 1000)
  const exp = Date.now() + ttlMs
  for (let i = 0; i < count; i++) {
    const tid = `tok_${randomIdSync(12)}`
    const session = randomIdSync()
    const token = signPurchaseTokenSync({ sale: saleId, tid, iat }, tokenSecret)
    const grant = signGrantSync({ sale: saleId, tid, gen: 1, sub: shopperOfSync(session), iat, exp }, grantSecret)
    out[i] = { session, token, grant, idempotencyKey: `bench-${randomIdSync(12)}` }
  }
  return out
}

/**
 * The HTTP request the edge sends core for a shopper's redeem (core's `POST /v1/redeem`, with the edge's receipt
 * signed with `edgeSecret`, core's CORE_INTERNAL_TOKEN), or a baseline's path (which ignores the receipt).
 */
export function redeemRequest(r: Redemption, edgeSecret: string, path = '/v1/redeem'): BenchRequest {
  const sub = shopperOfSync(r.session)
  const receipt = signEdgeReceiptSync(
    { at: Date.now(), req: 'POST /v1/redeem', sub, idk: r.idempotencyKey },
    edgeSecret,
  )
  return {
    method: 'POST',
    path,
    headers: {
      'content-type': 'application/json',
      [HEADER_SESSION]: r.session,
      [HEADER_IDEMPOTENCY_KEY]: r.idempotencyKey,
      [HEADER_EDGE_RECEIPT]: receipt,
    },
    body: JSON.stringify({ token: r.token, grant: r.grant, paymentMethod: 'pm_card_visa' }),
  }
}

/** Hands out requests one by one until the list runs out (each signed as it is handed out). */
export function requestSource(
  list: Redemption[],
  edgeSecret: string,
  path?: string,
): { next: () => BenchRequest | undefined; used: () => number } {
  let i = 0
  return { next: () => (i < list.length ? redeemRequest(list[i++]!, edgeSecret, path) : undefined), used: () => i }
}
