/**
 * The account routes on core, mounted by core/app.ts:
 *   POST /v1/auth/register | login | refresh | logout     (login takes an optional guest `cartId` to merge)
 *   GET  /v1/me
 *   GET|POST /v1/me/addresses, GET|PUT|DELETE /v1/me/addresses/:addressId
 *   operators (CORE_ADMIN_TOKEN, or an operator's access token): PUT /admin/accounts/:accountId/role,
 *     POST /admin/accounts/:accountId/verify
 * Bad input is a 4xx `{error:{code,message,field}}` and changes nothing.
 */
import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono, type Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { z } from 'zod'
import {
  ACCOUNT_ID_PATTERN,
  ADDRESS_ID_PATTERN,
  AddressBody,
  LoginRequest,
  LogoutRequest,
  MAX_ACCOUNT_BODY_BYTES,
  RefreshRequest,
  HEADER_CLIENT_KEY,
  RegisterRequest,
  Role,
  boundReceipt,
  type AccessClaims,
} from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'
import { requireBearer } from '../http/bearer.ts'
import { edgeCallOf } from '../http/edge-auth.ts'
import { readJson } from '../http/json-body.ts'
import type { Accounts } from './accounts.ts'

export type AccountVariables = { account: AccessClaims }

export interface AccountRoutesOptions {
  accounts: Accounts
  adminToken: string
  /** Merges a guest cart into the account's at login; its answer is returned as `cart`. */
  mergeCart?: (accountId: string, cartId: string) => Promise<unknown>
}

/**
 * Who the client is, for the per-address limits: the edge's hash of the client address when the edge vouches
 * for it (its receipt, signed with CORE_INTERNAL_TOKEN, binds the hash to this request), else the socket's peer.
 */
function clientAddress(c: Context): string {
  const vouched = c.req.header(HEADER_CLIENT_KEY)
  // requireEdge already checked the receipt's MAC and path (these routes are under /v1/*): only its binding is left.
  if (vouched && boundReceipt(edgeCallOf(c), { sub: vouched, idk: '', nowMs: Date.now() }).ok) return `edge:${vouched}`
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/** Requires a valid access token; sets `account` to its claims. */
export const requireAccount = (accounts: Accounts) =>
  createMiddleware<{ Variables: AccountVariables }>(async function requireAccount(c, next) {
    c.set('account', await accounts.authenticate(c.req.header('authorization')))
    await next()
  })

/**
 * Operator APIs: the static admin bearer (a service credential: token-issuer) or an operator's access token.
 */
export const requireOperator = (accounts: Accounts, adminToken: string) => {
  const service = requireBearer(adminToken)
  return createMiddleware(async function requireOperator(c, next) {
    const token = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? ''
    if (token.split('.').length !== 3) return service(c, next)
    const claims = await accounts.authenticate(c.req.header('authorization'))
    if (claims.role !== 'operator') throw new ApiError('forbidden', 'this needs an operator account', 'authorization')
    await next()
  })
}

function param(c: Context, name: string, pattern: RegExp, what: string): string {
  const value = c.req.param(name) ?? ''
  if (!pattern.test(value)) throw new ApiError('invalid_path', `${name} must look like ${what}`, name)
  return value
}

const RoleBody = z.object({ role: Role }).strict()

export function accountRoutes({ accounts, adminToken, mergeCart }: AccountRoutesOptions): Hono {
  const app = new Hono()
  const signedIn = requireAccount(accounts)

  app.post('/v1/auth/register', async (c) => {
    const body = await readJson(c, RegisterRequest, MAX_ACCOUNT_BODY_BYTES)
    return c.json(await accounts.register(body, clientAddress(c)), 201)
  })
  app.post('/v1/auth/login', async (c) => {
    const body = await readJson(c, LoginRequest, MAX_ACCOUNT_BODY_BYTES)
    const auth = await accounts.login(body.email, body.password, clientAddress(c))
    if (!body.cartId || !mergeCart) return c.json(auth)
    try {
      return c.json({ ...auth, cart: await mergeCart(auth.account.id, body.cartId) })
    } catch (error) {
      // The login stands (its tokens are issued); a cart that cannot be merged is said, not fatal.
      if (!(error instanceof ApiError)) throw error
      return c.json({ ...auth, cart: null, cartError: { code: error.code, message: error.message, field: 'cartId' } })
    }
  })
  app.post('/v1/auth/refresh', async (c) => {
    const { refreshToken } = await readJson(c, RefreshRequest, MAX_ACCOUNT_BODY_BYTES)
    return c.json(await accounts.refresh(refreshToken))
  })
  app.post('/v1/auth/logout', async (c) => {
    const { refreshToken } = await readJson(c, LogoutRequest, MAX_ACCOUNT_BODY_BYTES)
    await accounts.logout(refreshToken)
    return c.body(null, 204)
  })

  const me = new Hono<{ Variables: AccountVariables }>()
  me.use('*', signedIn)
  me.get('/', async (c) => c.json(await accounts.me(c.get('account').sub)))
  me.get('/addresses', async (c) => c.json({ addresses: await accounts.store.addresses(c.get('account').sub) }))
  me.post('/addresses', async (c) => {
    const body = await readJson(c, AddressBody, MAX_ACCOUNT_BODY_BYTES)
    return c.json(await accounts.store.putAddress(c.get('account').sub, null, body), 201)
  })
  const addressId = (c: Context) => param(c, 'addressId', ADDRESS_ID_PATTERN, 'adr_ followed by 24 hex chars')
  me.get('/addresses/:addressId', async (c) => {
    const address = await accounts.store.address(c.get('account').sub, addressId(c))
    if (!address)
      throw new ApiError('address_not_found', `no address ${c.req.param('addressId')} on this account`, 'addressId')
    return c.json(address)
  })
  me.put('/addresses/:addressId', async (c) => {
    const id = addressId(c)
    const body = await readJson(c, AddressBody, MAX_ACCOUNT_BODY_BYTES)
    return c.json(await accounts.store.putAddress(c.get('account').sub, id, body))
  })
  me.delete('/addresses/:addressId', async (c) => {
    if (!(await accounts.store.deleteAddress(c.get('account').sub, addressId(c)))) {
      throw new ApiError('address_not_found', `no address ${c.req.param('addressId')} on this account`, 'addressId')
    }
    return c.body(null, 204)
  })
  app.route('/v1/me', me)

  const admin = new Hono()
  admin.use('*', requireOperator(accounts, adminToken))
  const accountId = (c: Context) => param(c, 'accountId', ACCOUNT_ID_PATTERN, 'acc_ followed by 32 hex chars')
  admin.put('/:accountId/role', async (c) => {
    const id = accountId(c)
    const { role } = await readJson(c, RoleBody, MAX_ACCOUNT_BODY_BYTES)
    return c.json(await accounts.setRole(id, role))
  })
  admin.post('/:accountId/verify', async (c) => c.json(await accounts.markVerified(accountId(c))))
  app.route('/admin/accounts', admin)

  return app
}
