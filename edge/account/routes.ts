/**
 * Accounts and carts through the edge, passed through to core as they are (core validates everything):
 *   /api/auth/*  → /v1/auth/*      /api/me[/*] → /v1/me[/*]      /api/cart[/*] → /v1/cart[/*]
 * The edge adds who the client is for core's per-address login limit: a hash of the client address in
 * `x-floodgate-client-key`, bound into the edge's signed receipt so that nobody else can claim an address.
 */
import { Hono, type Context } from 'hono'
import { HEADER_CART, HEADER_CLIENT_KEY, HEADER_IDEMPOTENCY_KEY } from '../../contracts/index.ts'
import { clientNetwork, networkHash } from '../client-network.ts'
import { callCore, passThrough } from '../core.ts'
import type { AppEnv } from '../env.ts'
import { apiError } from '../http-error.ts'

/** Account and cart bodies are small; core caps them again. */
const MAX_FORWARD_BYTES = 64 * 1024
const FORWARDED = ['authorization', 'content-type', HEADER_IDEMPOTENCY_KEY, HEADER_CART] as const

/** The client as core's login limiter knows it: its network (IPv6 by /64), as a keyed hash core cannot reverse. */
function clientKey(c: Context<AppEnv>): Promise<string> {
  return networkHash(c.env.GRANT_SECRET, clientNetwork(c) ?? 'unknown')
}

async function forward(c: Context<AppEnv>): Promise<Response> {
  if (Number(c.req.header('content-length') ?? '0') > MAX_FORWARD_BYTES) {
    throw apiError('body_too_large', `body is larger than ${MAX_FORWARD_BYTES} bytes`)
  }
  const method = c.req.method
  const body = method === 'GET' || method === 'HEAD' ? undefined : await c.req.text()
  if (body !== undefined && body.length > MAX_FORWARD_BYTES)
    throw apiError('body_too_large', `body is larger than ${MAX_FORWARD_BYTES} bytes`)
  const url = new URL(c.req.url)
  const path = `/v1${url.pathname.slice('/api'.length)}`
  const client = await clientKey(c)
  const headers: Record<string, string> = { [HEADER_CLIENT_KEY]: client }
  for (const name of FORWARDED) {
    const value = c.req.header(name)
    if (value !== undefined) headers[name] = value
  }
  const res = await callCore(c.env, `${path}${url.search}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    retry: method === 'GET',
    receipt: { at: Date.now(), sub: client, idk: '' },
  })
  const answer = passThrough(res)
  for (const name of ['retry-after', 'link', 'www-authenticate']) {
    const value = res.headers.get(name)
    if (value !== null) answer.headers.set(name, value)
  }
  return answer
}

export const accountApiRoutes = new Hono<AppEnv>()
  .all('/auth/*', forward)
  .all('/me', forward)
  .all('/me/*', forward)
  .all('/cart', forward)
  .all('/cart/*', forward)
