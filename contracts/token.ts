/**
 * Purchase tokens and grants: the two signed artefacts a shopper carries to checkout.
 *
 * - A purchase token (`fgt1.…`) is minted by the operator's token-issuer, one per unit of stock,
 *   and signed with TOKEN_SECRET. It names a sale and a token id; nothing else.
 * - A grant (`fgg1.…`) is issued by the waiting room when it admits a shopper. It binds one
 *   token id, at one generation, to the shopper's session, until an expiry. Signed with GRANT_SECRET.
 *
 * Core only sells against a valid token AND a valid, unexpired grant for that token and the caller's
 * session. The edge never holds TOKEN_SECRET, so a compromised edge cannot mint stock.
 *
 * Wire format: `<prefix>.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, prefix "." payload))>`.
 * Only Web Crypto is used, so the same module runs in workerd and in Node; `vectors.json` pins it.
 */
import { z } from 'zod'
import { SaleId, ShopperId, TokenId } from './ids.ts'

export const TOKEN_PREFIX = 'fgt1'
export const GRANT_PREFIX = 'fgg1'
/** Hard cap on what we are willing to parse: a real token or grant is well under 400 bytes. */
export const MAX_SIGNED_LENGTH = 1024

export const PurchaseTokenPayload = z
  .object({
    typ: z.literal('pt'),
    sale: SaleId,
    tid: TokenId,
    iat: z.number().int().nonnegative(),
  })
  .strict()
export type PurchaseTokenPayload = z.infer<typeof PurchaseTokenPayload>

export const GrantPayload = z
  .object({
    typ: z.literal('gr'),
    sale: SaleId,
    tid: TokenId,
    /** Bumped each time the room hands the same token to a new shopper; core fences old generations. */
    gen: z.number().int().min(1),
    sub: ShopperId,
    iat: z.number().int().nonnegative(),
    /** Expiry, epoch milliseconds. */
    exp: z.number().int().positive(),
  })
  .strict()
export type GrantPayload = z.infer<typeof GrantPayload>

export type VerifyFailure =
  | 'token_malformed'
  | 'token_bad_signature'
  | 'token_wrong_sale'
  | 'grant_malformed'
  | 'grant_bad_signature'
  | 'grant_expired'
  | 'grant_session_mismatch'
  | 'grant_token_mismatch'

export type Verified<T> = { ok: true; payload: T } | { ok: false; code: VerifyFailure }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The two primitives signed artefacts need. Web Crypto by default, so the same code runs in workerd and
 * Node; core installs node:crypto at start (`useTokenCrypto`), which is synchronous and measured ~40% less
 * CPU per redeem than the async Web Crypto job queue. Both must pass `vectors.json`.
 */
export interface TokenCrypto {
  hmacSha256(key: string, data: string): Uint8Array | Promise<Uint8Array>
  /** Constant-time comparison of `mac` with the HMAC of `data`. */
  verifyHmacSha256(key: string, data: string, mac: Uint8Array): boolean | Promise<boolean>
  sha256(data: string): Uint8Array | Promise<Uint8Array>
  /** Faster base64url for this runtime (Node: Buffer); must agree with base64urlEncode/Decode below. */
  base64urlEncode?(bytes: Uint8Array): string
  base64urlDecode?(text: string): Uint8Array | null
}

type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>
const keyCache = new Map<string, Promise<HmacKey>>()

function hmacKey(secret: string): Promise<HmacKey> {
  let key = keyCache.get(secret)
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ])
    keyCache.set(secret, key)
  }
  return key
}

export const webTokenCrypto: TokenCrypto = {
  async hmacSha256(key, data) {
    return new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(key), encoder.encode(data)))
  },
  // crypto.subtle.verify compares in constant time.
  async verifyHmacSha256(key, data, mac) {
    return crypto.subtle.verify('HMAC', await hmacKey(key), mac, encoder.encode(data))
  },
  async sha256(data) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(data)))
  },
}

let active: TokenCrypto = webTokenCrypto

/** Swaps the implementation for this process (core does, once, at start). */
export function useTokenCrypto(implementation: TokenCrypto): void {
  active = implementation
}

export function tokenCrypto(): TokenCrypto {
  return active
}

export function base64urlEncode(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export function base64urlDecode(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4)
  try {
    const binary = atob(padded)
    const out = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
    return out
  } catch {
    return null
  }
}

/** `<prefix>.<base64url(JSON)>.<base64url(HMAC-SHA256(key, prefix "." payload))>` */
export async function signEnvelope(prefix: string, payload: object, key: string): Promise<string> {
  const body = `${prefix}.${base64urlEncode(encoder.encode(JSON.stringify(payload)))}`
  return `${body}.${(active.base64urlEncode ?? base64urlEncode)(await active.hmacSha256(key, body))}`
}

export type Opened = { ok: true; json: unknown } | { ok: false; reason: 'malformed' | 'bad_signature' }

/** Checks shape and MAC of an envelope made by `signEnvelope`, then parses its JSON payload. */
export async function openEnvelope(prefix: string, signed: unknown, key: string): Promise<Opened> {
  if (typeof signed !== 'string' || signed.length > MAX_SIGNED_LENGTH) return { ok: false, reason: 'malformed' }
  const parts = signed.split('.')
  if (parts.length !== 3 || parts[0] !== prefix) return { ok: false, reason: 'malformed' }
  const decode = active.base64urlDecode ?? base64urlDecode
  const payloadBytes = decode(parts[1]!)
  const mac = decode(parts[2]!)
  if (!payloadBytes || !mac || mac.length !== 32) return { ok: false, reason: 'malformed' }
  if (!(await active.verifyHmacSha256(key, `${parts[0]}.${parts[1]}`, mac)))
    return { ok: false, reason: 'bad_signature' }
  try {
    return { ok: true, json: JSON.parse(decoder.decode(payloadBytes)) }
  } catch {
    return { ok: false, reason: 'malformed' }
  }
}

/**
 * Reads a token's payload WITHOUT checking its signature. Only for places that never sell
 * against it (the waiting room indexing the tokens an operator loaded).
 */
export function peekPurchaseToken(signed: string): PurchaseTokenPayload | null {
  const parts = typeof signed === 'string' ? signed.split('.') : []
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || signed.length > MAX_SIGNED_LENGTH) return null
  const bytes = base64urlDecode(parts[1]!)
  if (!bytes) return null
  try {
    const parsed = PurchaseTokenPayload.safeParse(JSON.parse(decoder.decode(bytes)))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

/** Reads a grant's payload WITHOUT checking its signature (clients and the edge learning tid/gen/exp). */
export function peekGrant(signed: string): GrantPayload | null {
  const parts = typeof signed === 'string' ? signed.split('.') : []
  if (parts.length !== 3 || parts[0] !== GRANT_PREFIX || signed.length > MAX_SIGNED_LENGTH) return null
  const bytes = base64urlDecode(parts[1]!)
  if (!bytes) return null
  try {
    const parsed = GrantPayload.safeParse(JSON.parse(decoder.decode(bytes)))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

export function signPurchaseToken(payload: Omit<PurchaseTokenPayload, 'typ'>, secret: string): Promise<string> {
  return signEnvelope(TOKEN_PREFIX, PurchaseTokenPayload.parse({ typ: 'pt', ...payload }), secret)
}

export function signGrant(payload: Omit<GrantPayload, 'typ'>, secret: string): Promise<string> {
  return signEnvelope(GRANT_PREFIX, GrantPayload.parse({ typ: 'gr', ...payload }), secret)
}

export async function verifyPurchaseToken(
  signed: unknown,
  secret: string,
  expect: { saleId?: string } = {},
): Promise<Verified<PurchaseTokenPayload>> {
  const opened = await openEnvelope(TOKEN_PREFIX, signed, secret)
  if (!opened.ok) return { ok: false, code: opened.reason === 'malformed' ? 'token_malformed' : 'token_bad_signature' }
  const parsed = PurchaseTokenPayload.safeParse(opened.json)
  if (!parsed.success) return { ok: false, code: 'token_malformed' }
  if (expect.saleId !== undefined && parsed.data.sale !== expect.saleId) return { ok: false, code: 'token_wrong_sale' }
  return { ok: true, payload: parsed.data }
}

/**
 * Verifies a grant and its binding: same sale and token id as `token`, issued to `shopper`, and not expired
 * at `nowMs`. Without `nowMs` the expiry is left to the caller (core checks it only for a request that would
 * create something: a retry of a redeem that already made an order gets that order, however old the grant).
 */
export async function verifyGrant(
  signed: unknown,
  secret: string,
  expect: { token: PurchaseTokenPayload; shopper: string; nowMs?: number },
): Promise<Verified<GrantPayload>> {
  const opened = await openEnvelope(GRANT_PREFIX, signed, secret)
  if (!opened.ok) return { ok: false, code: opened.reason === 'malformed' ? 'grant_malformed' : 'grant_bad_signature' }
  const parsed = GrantPayload.safeParse(opened.json)
  if (!parsed.success) return { ok: false, code: 'grant_malformed' }
  const grant = parsed.data
  if (grant.sale !== expect.token.sale || grant.tid !== expect.token.tid)
    return { ok: false, code: 'grant_token_mismatch' }
  if (grant.sub !== expect.shopper) return { ok: false, code: 'grant_session_mismatch' }
  if (expect.nowMs !== undefined && grant.exp <= expect.nowMs) return { ok: false, code: 'grant_expired' }
  return { ok: true, payload: grant }
}

/** The shopper id core sees: a hash of the session id, so core never stores the session itself. */
export async function shopperOf(sessionId: string): Promise<string> {
  return (active.base64urlEncode ?? base64urlEncode)(await active.sha256(`floodgate-session:${sessionId}`)).slice(0, 22)
}

/**
 * The order a token generation becomes: the same sale, token and generation give the same id on every node
 * and every retry, so a shopper whose answer was lost finds the order again from the grant alone.
 */
export async function orderIdOf(saleId: string, tid: string, gen: number): Promise<string> {
  const digest = await active.sha256(`${saleId}:${tid}:${gen}`)
  let hex = ''
  for (let i = 0; i < 16; i++) hex += digest[i]!.toString(16).padStart(2, '0')
  return `ord_${hex}`
}

/** 128 random bits, base64url: used for token ids and session ids. */
export function randomId(bytes = 16): string {
  return base64urlEncode(crypto.getRandomValues(new Uint8Array(bytes)))
}
