import { createMiddleware } from 'hono/factory'
import { verifyAccessToken } from '../../../contracts/index.ts'
import type { Env } from '../../env.ts'
import { apiError } from '../../http-error.ts'

export type AdminAuthOptions = {
  /** Where the expected bearer token comes from. Default: `env.EDGE_ADMIN_TOKEN`. */
  token?: (env: Env) => string | undefined
  /** Realm in the `WWW-Authenticate` challenge. Default: `floodgate-admin`. */
  realm?: string
  /**
   * Also accept an operator's account access token (ES256, verified with `env.ACCESS_TOKEN_PUBLIC_KEY`, role
   * `operator`). The static token stays a service credential (token-issuer, core). Default: true.
   */
  operators?: boolean
}

/** A compact JWS: three base64url parts, the header starting `{"` (`eyJ`). */
const looksLikeJwt = (token: string) => /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(token)

const PREFIX = 'Bearer '
const encoder = new TextEncoder()

/** Compares SHA-256 digests of both strings without an early exit, so timing does not leak a prefix. */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(given)),
    crypto.subtle.digest('SHA-256', encoder.encode(expected)),
  ])
  const x = new Uint8Array(a)
  const y = new Uint8Array(b)
  let diff = 0
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!
  return diff === 0
}

/**
 * Requires `Authorization: Bearer <token>` matching the operator token; otherwise 401 `unauthorized`.
 * An empty configured token rejects everyone (fails closed).
 *
 * @param options.token - reads the expected token from the bindings. Default: `env.EDGE_ADMIN_TOKEN`.
 * @param options.realm - `WWW-Authenticate` realm. Default: `floodgate-admin`.
 * @param options.operators - also accept an operator's access token. Default: true.
 * @example
 * ```ts
 * app.use('/admin/*', adminAuth())
 * ```
 */
export const adminAuth = ({
  token = (env) => env.EDGE_ADMIN_TOKEN,
  realm = 'floodgate-admin',
  operators = true,
}: AdminAuthOptions = {}) => {
  const challenge = { 'www-authenticate': `Bearer realm="${realm}"` }
  return createMiddleware<{ Bindings: Env }>(async function adminAuth(c, next) {
    const expected = token(c.env)
    const header = c.req.header('authorization') ?? ''
    if (!header.startsWith(PREFIX)) {
      throw apiError('unauthorized', 'send Authorization: Bearer <admin token>', 'authorization', challenge)
    }
    const given = header.slice(PREFIX.length).trim()
    if (operators && looksLikeJwt(given)) {
      const verified = await verifyAccessToken(given, c.env.ACCESS_TOKEN_PUBLIC_KEY, Date.now())
      if (!verified.ok) {
        throw apiError(verified.code, `access token refused (${verified.code})`, 'authorization', challenge)
      }
      if (verified.claims.role !== 'operator') {
        throw apiError('forbidden', 'this needs an operator account', 'authorization')
      }
      return next()
    }
    if (!expected || !(await sameSecret(given, expected))) {
      throw apiError('unauthorized', 'admin token is not valid', 'authorization', challenge)
    }
    await next()
  })
}
