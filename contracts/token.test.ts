// Runs in BOTH vitest projects: Node (core's runtime) and workerd (the edge's runtime).
import { describe, expect, it } from 'vitest'
import vectors from './vectors.json'
import { shopperOf, signGrant, signPurchaseToken, verifyGrant, verifyPurchaseToken, type PurchaseTokenPayload } from './token.ts'

const secret = (name: string) => vectors.secrets[name as keyof typeof vectors.secrets]
const runtime = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers' ? 'workerd' : 'node'

describe(`token vectors (${runtime})`, () => {
  it('should derive the same shopper ids from sessions', async () => {
    expect(await shopperOf(vectors.sessions.owner)).toBe(vectors.sessions.ownerShopper)
    expect(await shopperOf(vectors.sessions.other)).toBe(vectors.sessions.otherShopper)
  })

  it('should sign byte-for-byte the same tokens and grants', async () => {
    for (const v of vectors.signing) {
      const signed =
        v.kind === 'token'
          ? await signPurchaseToken(v.payload as Omit<PurchaseTokenPayload, 'typ'>, secret(v.secret))
          : await signGrant(v.payload as Parameters<typeof signGrant>[0], secret(v.secret))
      expect(signed).toBe(v.expected)
    }
  })

  for (const v of vectors.tokens) {
    it(`should verify token vector "${v.name}" as ${v.expect}`, async () => {
      const result = await verifyPurchaseToken(v.token, secret(v.secret), { saleId: v.saleId })
      expect(result.ok ? 'ok' : result.code).toBe(v.expect)
    })
  }

  for (const v of vectors.grants) {
    it(`should verify grant vector "${v.name}" as ${v.expect}`, async () => {
      const token = await verifyPurchaseToken(vectors.tokens[0]!.token, secret('token'))
      if (!token.ok) throw new Error('vector token must verify')
      const shopper = await shopperOf(vectors.sessions[v.session as 'owner' | 'other'])
      const result = await verifyGrant(v.grant, secret(v.secret), { token: token.payload, shopper, nowMs: v.nowMs })
      expect(result.ok ? 'ok' : result.code).toBe(v.expect)
    })
  }
})
