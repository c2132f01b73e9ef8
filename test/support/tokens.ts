import { randomId, shopperOf, signGrant, signPurchaseToken } from '../../contracts/index.ts'
import type { CoreConfig } from '../../core/config.ts'

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
