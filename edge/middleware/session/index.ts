import type { Context } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { createMiddleware } from 'hono/factory'
import { HEADER_SESSION, randomId, SESSION_COOKIE, SessionId, shopperOf } from '../../../contracts/index.ts'
import { BoundedMap } from '../../bounded-map.ts'
import { apiError } from '../../http-error.ts'

/** session -> shopper id, per edge instance (a hash each; shoppers send the same session on every poll). */
const SHOPPERS = new BoundedMap<string, string>(100_000)

async function shopperOfSession(session: string): Promise<string> {
  const known = SHOPPERS.get(session)
  if (known !== undefined) return known
  const shopper = await shopperOf(session)
  SHOPPERS.set(session, shopper)
  return shopper
}

/**
 * The name a cookie goes by on this request: over https with the `__Host-` prefix, which the browser only accepts
 * Secure, for this host alone, on path `/` (no sibling subdomain can plant or overwrite it); plain locally.
 */
export function cookieName(c: Context, base: string): string {
  return new URL(c.req.url).protocol === 'https:' ? `__Host-${base}` : base
}

export type SessionOptions = {
  /**
   * What to do without a session: `require` answers 400 `missing_session`; `create` mints one with
   * `randomId()` and sets the `fg_session` cookie. Default: `require`.
   */
  missing?: 'require' | 'create'
  /** Cookie lifetime in seconds when one is created. Default: 7 days. */
  maxAgeSeconds?: number
}

export type SessionVariables = {
  /** The shopper's opaque session id (never sent to the waiting room). */
  session: string
  /** `shopperOf(session)`: the only identity the waiting room and core's grants see. */
  shopper: string
  /** True when this request minted the session. */
  sessionCreated: boolean
}

/**
 * Reads the shopper's session from the `x-floodgate-session` header or the `fg_session` cookie (header wins),
 * validates it (400 `invalid_session`) and derives the shopper id.
 *
 * @param options.missing - `require` (default) or `create`.
 * @param options.maxAgeSeconds - cookie Max-Age when created. Default: 604800.
 * @example
 * ```ts
 * app.post('/api/sales/:saleId/join', session({ missing: 'create' }), (c) => c.json({ shopper: c.var.shopper }))
 * ```
 */
export const session = ({ missing = 'require', maxAgeSeconds = 7 * 24 * 3600 }: SessionOptions = {}) =>
  createMiddleware<{ Variables: SessionVariables }>(async function session(c, next) {
    const header = c.req.header(HEADER_SESSION)
    const cookie = cookieName(c, SESSION_COOKIE)
    const value = header ?? getCookie(c, cookie)
    let id: string
    let created = false
    if (value === undefined || value === '') {
      if (missing === 'require') {
        throw apiError(
          'missing_session',
          `send the session as the ${cookie} cookie or the ${HEADER_SESSION} header`,
          HEADER_SESSION,
        )
      }
      id = randomId()
      created = true
      // Only ever minted when the request carried no session: an existing cookie is never replaced.
      setCookie(c, cookie, id, {
        httpOnly: true,
        sameSite: 'Lax',
        path: '/',
        maxAge: maxAgeSeconds,
        secure: new URL(c.req.url).protocol === 'https:',
      })
    } else {
      const parsed = SessionId.safeParse(value)
      if (!parsed.success) {
        throw apiError(
          'invalid_session',
          'the session id must be 16-128 base64url chars',
          header !== undefined ? HEADER_SESSION : cookie,
        )
      }
      id = parsed.data
    }
    c.set('session', id)
    c.set('shopper', await shopperOfSession(id))
    c.set('sessionCreated', created)
    await next()
  })
