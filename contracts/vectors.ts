/**
 * Runs every case of `vectors.json` through the token code as it is configured right now (Web Crypto, or
 * whatever `useTokenCrypto` installed) and returns what came out next to what was expected. The Node and
 * workerd test projects, and core's node:crypto test, all assert on this one list.
 */
import vectors from './vectors.json'
import { shopperOfAccount } from './account.ts'
import { verifyAccessToken } from './access-token.ts'
import { verifyEdgeReceipt } from './edge-receipt.ts'
import {
  orderIdOf,
  shopperOf,
  signGrant,
  signPurchaseToken,
  verifyGrant,
  verifyPurchaseToken,
  type PurchaseTokenPayload,
} from './token.ts'

export interface VectorVerdict {
  name: string
  expected: string
  actual: string
}

const secret = (name: string) => vectors.secrets[name as keyof typeof vectors.secrets]

export async function vectorVerdicts(): Promise<VectorVerdict[]> {
  const out: VectorVerdict[] = []
  out.push({
    name: 'shopper of owner session',
    expected: vectors.sessions.ownerShopper,
    actual: await shopperOf(vectors.sessions.owner),
  })
  out.push({
    name: 'shopper of other session',
    expected: vectors.sessions.otherShopper,
    actual: await shopperOf(vectors.sessions.other),
  })
  for (const v of vectors.signing) {
    const signed =
      v.kind === 'token'
        ? await signPurchaseToken(v.payload as Omit<PurchaseTokenPayload, 'typ'>, secret(v.secret))
        : await signGrant(v.payload as Parameters<typeof signGrant>[0], secret(v.secret))
    out.push({ name: `sign ${v.kind}`, expected: v.expected, actual: signed })
  }
  for (const v of vectors.tokens) {
    const result = await verifyPurchaseToken(v.token, secret(v.secret), { saleId: v.saleId })
    out.push({ name: `token "${v.name}"`, expected: v.expect, actual: result.ok ? 'ok' : result.code })
  }
  const token = await verifyPurchaseToken(vectors.tokens[0]!.token, secret('token'))
  if (!token.ok) throw new Error('the first token vector must verify')
  for (const v of vectors.grants) {
    const shopper = await shopperOf(vectors.sessions[v.session as 'owner' | 'other'])
    const result = await verifyGrant(v.grant, secret(v.secret), { token: token.payload, shopper, nowMs: v.nowMs })
    out.push({ name: `grant "${v.name}"`, expected: v.expect, actual: result.ok ? 'ok' : result.code })
  }
  for (const v of vectors.orderIds) {
    out.push({
      name: `order id of ${v.tid}/${v.gen}`,
      expected: v.expected,
      actual: await orderIdOf(v.saleId, v.tid, v.gen),
    })
  }
  for (const v of vectors.receipts) {
    const result = await verifyEdgeReceipt(v.receipt, secret(v.secret), {
      req: v.req,
      sub: v.sub,
      idk: v.idk,
      nowMs: v.nowMs,
    })
    out.push({ name: `receipt "${v.name}"`, expected: v.expect, actual: result.ok ? 'ok' : result.code })
  }
  for (const v of vectors.accounts) {
    out.push({ name: `shopper of account ${v.id}`, expected: v.shopper, actual: await shopperOfAccount(v.id) })
  }
  for (const v of vectors.accessTokens) {
    const result = await verifyAccessToken(v.token, vectors.accessKeys[v.key as 'vector' | 'other'], v.nowMs)
    out.push({ name: `access token "${v.name}"`, expected: v.expect, actual: result.ok ? 'ok' : result.code })
  }
  return out
}
