/**
 * Who a shopper is at the edge: an account, when the request carries an access token, verified here with the
 * public key alone (Web Crypto, no call to core). A signed-in shopper's waiting-room identity is derived from
 * the account, so all of its sessions and devices are one shopper: one place in line, one per-shopper limit.
 */
import type { Context } from 'hono'
import { getCookie } from 'hono/cookie'
import { createMiddleware } from 'hono/factory'
import { shopperOfAccount, verifyAccessToken, type AccessClaims, type JoinPolicy } from '../../contracts/index.ts'
import { BoundedMap } from '../bounded-map.ts'
import type { Env } from '../env.ts'
import { apiError } from '../http-error.ts'

/** The access token's cookie, for browsers (the header wins when both are sent). */
export const ACCESS_COOKIE = 'fg_access'

/** Optional, so that contexts typed before this middleware (`SessionVariables` only) still accept its routes. */
export type AccountIdentityVariables = {
  /** The verified claims of the shopper's access token; null when signed out. */
  account?: AccessClaims | null
}

/** account id -> shopper id, per edge instance. */
const SHOPPERS = new BoundedMap<string, string>(100_000)

async function shopperOf(accountId: string): Promise<string> {
  const known = SHOPPERS.get(accountId)
  if (known !== undefined) return known
  const shopper = await shopperOfAccount(accountId)
  SHOPPERS.set(accountId, shopper)
  return shopper
}

function presented(c: Context): { token: string; field: string } | null {
  const header = c.req.header('authorization')
  if (header !== undefined) {
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1]
    if (!token) throw apiError('access_token_malformed', 'send Authorization: Bearer <access token>', 'authorization')
    return { token, field: 'authorization' }
  }
  const cookie = getCookie(c, ACCESS_COOKIE)
  return cookie ? { token: cookie, field: ACCESS_COOKIE } : null
}

/**
 * Verifies the access token (`Authorization: Bearer` or the `fg_access` cookie) with `ACCESS_TOKEN_PUBLIC_KEY`:
 * none → signed out (`account` null, the session's shopper stays); forged, expired or malformed → 401 naming
 * where it came from. Goes after `session()`, whose `shopper` it replaces for a signed-in shopper.
 *
 * @example
 * ```ts
 * app.post('/api/sales/:saleId/join', session({ missing: 'create' }), accountIdentity(), (c) => c.json(c.var.account))
 * ```
 */
export const accountIdentity = () =>
  createMiddleware<{ Bindings: Env; Variables: AccountIdentityVariables & { shopper: string } }>(
    async function accountIdentity(c, next) {
      const given = presented(c)
      if (!given) {
        c.set('account', null)
        return next()
      }
      const verified = await verifyAccessToken(given.token, c.env.ACCESS_TOKEN_PUBLIC_KEY, Date.now())
      if (!verified.ok) throw apiError(verified.code, `the access token is not valid (${verified.code})`, given.field)
      c.set('account', verified.claims)
      c.set('shopper', await shopperOf(verified.claims.sub))
      await next()
    },
  )

/**
 * Whether this shopper may take a place under the sale's join policy: 401 `sign_in_required` for a signed-out
 * shopper where accounts are required, 403 `verification_required` for an account not verified before the
 * pre-queue opened (`openedAt`, epoch ms).
 */
export function checkJoinPolicy(
  policy: JoinPolicy | undefined,
  account: AccessClaims | null | undefined,
  openedAt: number | null | undefined,
): void {
  if (!policy || policy === 'anonymous') return
  if (!account)
    throw apiError('sign_in_required', 'this sale is for signed-in accounts: log in and join again', 'authorization')
  if (policy === 'verified' && (account.vat === undefined || openedAt == null || account.vat * 1000 >= openedAt)) {
    throw apiError(
      'verification_required',
      'this sale is for accounts verified before its pre-queue opened',
      'authorization',
    )
  }
}

/** The header that carries the shopper's account to core, when signed in (core derives the same shopper id). */
export function accountHeaders(c: Context): Record<string, string> {
  const header = c.req.header('authorization')
  const token = header ?? getCookie(c, ACCESS_COOKIE)
  if (!(c.var as Partial<AccountIdentityVariables>).account || !token) return {}
  return { authorization: header ?? `Bearer ${token}` }
}
