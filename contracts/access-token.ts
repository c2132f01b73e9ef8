/**
 * Account access tokens: compact JWS (RFC 7515) with ES256 (ECDSA P-256, SHA-256), signed by core with its
 * private key and verified by anyone holding the public key (the edge, without calling core). Web Crypto only,
 * so the same module runs in workerd and in Node; `vectors.json` (`accessTokens`) pins it.
 *
 * Keys travel as JWK JSON: core holds `{kty:"EC",crv:"P-256",x,y,d}`, the edge `{kty:"EC",crv:"P-256",x,y}`.
 */
import { z } from 'zod'
import { ACCOUNT_ID_PATTERN, Role } from './account.ts'
import { base64urlDecode, base64urlEncode } from './token.ts'

export const ACCESS_TOKEN_ISSUER = 'floodgate' as const
/** A real access token is well under 600 bytes. */
export const MAX_ACCESS_TOKEN_LENGTH = 2048

export const AccessClaims = z
  .object({
    iss: z.literal(ACCESS_TOKEN_ISSUER),
    sub: z.string().regex(ACCOUNT_ID_PATTERN),
    role: Role,
    /** The refresh-token family (login) this token was issued in. */
    sid: z.string().min(1).max(64),
    /** When the account's email was verified (epoch seconds), or absent. */
    vat: z.number().int().nonnegative().optional(),
    iat: z.number().int().nonnegative(),
    exp: z.number().int().positive(),
  })
  .strict()
export type AccessClaims = z.infer<typeof AccessClaims>

export type AccessTokenFailure = 'access_token_malformed' | 'access_token_bad_signature' | 'access_token_expired'
export type VerifiedAccess = { ok: true; claims: AccessClaims } | { ok: false; code: AccessTokenFailure }

const EcJwk = z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string().min(40), y: z.string().min(40) })
const EcPrivateJwk = EcJwk.extend({ d: z.string().min(40) })

const HEADER = base64urlEncode(new TextEncoder().encode(JSON.stringify({ alg: 'ES256', typ: 'JWT' })))
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGNATURE = { name: 'ECDSA', hash: 'SHA-256' } as const
const encoder = new TextEncoder()
const decoder = new TextDecoder()

type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>
const keyCache = new Map<string, Promise<Key>>()

function importJwk(json: string, use: 'sign' | 'verify'): Promise<Key> {
  const cacheKey = `${use}:${json}`
  let key = keyCache.get(cacheKey)
  if (!key) {
    const parsed = (use === 'sign' ? EcPrivateJwk : EcJwk).parse(JSON.parse(json))
    const jwk = use === 'sign' ? parsed : { kty: parsed.kty, crv: parsed.crv, x: parsed.x, y: parsed.y }
    key = crypto.subtle.importKey('jwk', jwk, ALGORITHM, false, [use])
    key.catch(() => keyCache.delete(cacheKey))
    keyCache.set(cacheKey, key)
  }
  return key
}

/** Throws unless `json` is a P-256 JWK: private (with `d`) for `sign`, public for `verify`. */
export function parseAccessKey(json: string, use: 'sign' | 'verify'): void {
  ;(use === 'sign' ? EcPrivateJwk : EcJwk).parse(JSON.parse(json))
}

/** The public half of a private JWK, as the edge holds it. */
export function publicKeyOf(privateJwk: string): string {
  const { kty, crv, x, y } = EcPrivateJwk.parse(JSON.parse(privateJwk))
  return JSON.stringify({ kty, crv, x, y })
}

export async function signAccessToken(claims: AccessClaims, privateJwk: string): Promise<string> {
  const body = `${HEADER}.${base64urlEncode(encoder.encode(JSON.stringify(AccessClaims.parse(claims))))}`
  const signature = await crypto.subtle.sign(SIGNATURE, await importJwk(privateJwk, 'sign'), encoder.encode(body))
  return `${body}.${base64urlEncode(new Uint8Array(signature))}`
}

/**
 * Checks header (ES256 only: no `none`, no HMAC with the public key as secret), signature (raw r||s, 64 bytes),
 * then claims; `nowMs` decides expiry. Never throws on bad input.
 */
export async function verifyAccessToken(
  token: string | undefined,
  publicJwk: string,
  nowMs: number,
): Promise<VerifiedAccess> {
  if (!token || token.length > MAX_ACCESS_TOKEN_LENGTH) return { ok: false, code: 'access_token_malformed' }
  const parts = token.split('.')
  if (parts.length !== 3 || parts[0] !== HEADER) return { ok: false, code: 'access_token_malformed' }
  const signature = base64urlDecode(parts[2]!)
  const payload = base64urlDecode(parts[1]!)
  if (!signature || signature.length !== 64 || !payload) return { ok: false, code: 'access_token_malformed' }
  const valid = await crypto.subtle.verify(
    SIGNATURE,
    await importJwk(publicJwk, 'verify'),
    signature,
    encoder.encode(`${parts[0]}.${parts[1]}`),
  )
  if (!valid) return { ok: false, code: 'access_token_bad_signature' }
  let json: unknown
  try {
    json = JSON.parse(decoder.decode(payload))
  } catch {
    return { ok: false, code: 'access_token_malformed' }
  }
  const parsed = AccessClaims.safeParse(json)
  if (!parsed.success) return { ok: false, code: 'access_token_malformed' }
  if (parsed.data.exp * 1000 <= nowMs) return { ok: false, code: 'access_token_expired' }
  return { ok: true, claims: parsed.data }
}
