import { expect } from 'vitest'
import {
  orderIdOf,
  randomId,
  shopperOf,
  signGrant,
  signPurchaseToken,
  type CheckoutJob,
  type RedeemResponse,
} from '../../contracts/index.ts'
import type { CoreConfig } from '../../core/config.ts'
import type { TestCore } from './core.ts'

/** A purchase token and a grant bound to `shopper` (a session's or an account's), as issuer and room hand them. */
export async function tokenAndGrant(
  config: Pick<CoreConfig, 'TOKEN_SECRET' | 'GRANT_SECRET'>,
  saleId: string,
  shopper: string,
  { gen = 1, ttlMs = 60_000, tid = `tok_${randomId(12)}` } = {},
) {
  const token = await signPurchaseToken({ sale: saleId, tid, iat: Math.floor(Date.now() / 1000) }, config.TOKEN_SECRET)
  const grantExpiresAt = Date.now() + ttlMs
  const grant = await signGrant(
    { sale: saleId, tid, gen, sub: shopper, iat: Math.floor(Date.now() / 1000), exp: grantExpiresAt },
    config.GRANT_SECRET,
  )
  return { tid, token, grant, grantExpiresAt }
}

/** Mints what the token-issuer and the waiting room would hand a shopper, for core-only tests. */
export async function admittedShopper(
  config: Pick<CoreConfig, 'TOKEN_SECRET' | 'GRANT_SECRET'>,
  saleId: string,
  { gen = 1, ttlMs = 60_000, tid = `tok_${randomId(12)}`, session = randomId() } = {},
) {
  const shopper = await shopperOf(session)
  const { token, grant, grantExpiresAt } = await tokenAndGrant(config, saleId, shopper, { gen, ttlMs, tid })
  return { tid, gen, session, shopper, token, grant, grantExpiresAt }
}

/** POSTs the shopper's token and grant to core's redeem under Idempotency-Key `key`, as the edge sends it. */
export function postRedeem(
  core: Pick<TestCore, 'app'>,
  shopper: { session: string; token: string; grant: string },
  key: string,
  { paymentMethod, headers = {} }: { paymentMethod?: string; headers?: Record<string, string> } = {},
) {
  return core.app.request('/v1/redeem', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-floodgate-session': shopper.session,
      'idempotency-key': key,
      ...headers,
    },
    body: JSON.stringify({ token: shopper.token, grant: shopper.grant, paymentMethod }),
  })
}

/**
 * A freshly admitted shopper redeems through core's API, as the edge sends it (`core.app` signs as the edge);
 * expects 202 and returns the shopper with its order id.
 */
export async function redeemAdmitted(
  core: Pick<TestCore, 'config' | 'app'>,
  saleId: string,
  paymentMethod = 'pm_card_visa',
) {
  const shopper = await admittedShopper(core.config, saleId)
  const res = await postRedeem(core, shopper, `key-${shopper.tid}`, { paymentMethod })
  expect(res.status).toBe(202)
  return { ...shopper, orderId: ((await res.json()) as RedeemResponse).orderId }
}

/**
 * A hold taken by the redeem script alone (no checkout job queued: the test runs the saga itself) for a freshly
 * admitted shopper (or `admitted`, when the test redeems as that shopper again), and the job its checkout saga runs.
 */
export async function heldCheckout(
  core: Pick<TestCore, 'config' | 'scripts'>,
  saleId: string,
  paymentMethod: string,
  key?: string,
  admitted?: Awaited<ReturnType<typeof admittedShopper>>,
): Promise<CheckoutJob> {
  const shopper = admitted ?? (await admittedShopper(core.config, saleId))
  const orderId = await orderIdOf(saleId, shopper.tid, shopper.gen)
  const idempotencyKey = key ?? `key-${shopper.tid}`
  const result = await core.scripts.redeemToken(saleId, {
    tid: shopper.tid,
    gen: 1,
    shopper: shopper.shopper,
    idempotencyKey,
    orderId,
    nowMs: Date.now(),
    grantExpiresAtMs: shopper.grantExpiresAt,
  })
  expect(result.kind).toBe('held')
  return {
    orderId,
    saleId,
    tid: shopper.tid,
    gen: 1,
    shopper: shopper.shopper,
    paymentMethod,
    amountCents: 4999,
    currency: 'USD',
    idempotencyKey,
    redeemedAt: Date.now(),
  }
}
