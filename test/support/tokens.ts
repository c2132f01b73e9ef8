import { expect } from 'vitest'
import { randomId, shopperOf, signGrant, signPurchaseToken, type RedeemResponse } from '../../contracts/index.ts'
import type { CoreConfig } from '../../core/config.ts'
import type { TestCore } from './core.ts'

/** Mints what the token-issuer and the waiting room would hand a shopper, for core-only tests. */
export async function admittedShopper(
  config: Pick<CoreConfig, 'TOKEN_SECRET' | 'GRANT_SECRET'>,
  saleId: string,
  { gen = 1, ttlMs = 60_000, tid = `tok_${randomId(12)}`, session = randomId() } = {},
) {
  const token = await signPurchaseToken({ sale: saleId, tid, iat: Math.floor(Date.now() / 1000) }, config.TOKEN_SECRET)
  const shopper = await shopperOf(session)
  const grantExpiresAt = Date.now() + ttlMs
  const grant = await signGrant(
    { sale: saleId, tid, gen, sub: shopper, iat: Math.floor(Date.now() / 1000), exp: grantExpiresAt },
    config.GRANT_SECRET,
  )
  return { tid, gen, session, shopper, token, grant, grantExpiresAt }
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
  const res = await core.app.request('/v1/redeem', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-floodgate-session': shopper.session,
      'idempotency-key': `key-${shopper.tid}`,
    },
    body: JSON.stringify({ token: shopper.token, grant: shopper.grant, paymentMethod }),
  })
  expect(res.status).toBe(202)
  return { ...shopper, orderId: ((await res.json()) as RedeemResponse).orderId }
}
