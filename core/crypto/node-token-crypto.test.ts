import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import vectors from '../../contracts/vectors.json'
import {
  seedCommitment,
  shopperOf,
  shuffleKey,
  signGrant,
  signPurchaseToken,
  signTicket,
  useTokenCrypto,
  verifyGrant,
  verifyPurchaseToken,
  verifyTicket,
  webTokenCrypto,
  type PurchaseTokenPayload,
} from '../../contracts/index.ts'
import { nodeTokenCrypto } from './node-token-crypto.ts'

const secret = (name: string) => vectors.secrets[name as keyof typeof vectors.secrets]

describe('when core swaps Web Crypto for node:crypto', () => {
  beforeAll(() => useTokenCrypto(nodeTokenCrypto))
  afterAll(() => useTokenCrypto(webTokenCrypto))

  it('should sign the vectors byte for byte and derive the same shopper ids', async () => {
    for (const v of vectors.signing) {
      const signed =
        v.kind === 'token'
          ? await signPurchaseToken(v.payload as Omit<PurchaseTokenPayload, 'typ'>, secret(v.secret))
          : await signGrant(v.payload as Parameters<typeof signGrant>[0], secret(v.secret))
      expect(signed).toBe(v.expected)
    }
    expect(await shopperOf(vectors.sessions.owner)).toBe(vectors.sessions.ownerShopper)
  })

  it('should give every token and grant vector its expected verdict', async () => {
    for (const v of vectors.tokens) {
      const result = await verifyPurchaseToken(v.token, secret(v.secret), { saleId: v.saleId })
      expect(result.ok ? 'ok' : result.code, v.name).toBe(v.expect)
    }
    const token = await verifyPurchaseToken(vectors.tokens[0]!.token, secret('token'))
    if (!token.ok) throw new Error('vector token must verify')
    for (const v of vectors.grants) {
      const shopper = await shopperOf(vectors.sessions[v.session as 'owner' | 'other'])
      const result = await verifyGrant(v.grant, secret(v.secret), { token: token.payload, shopper, nowMs: v.nowMs })
      expect(result.ok ? 'ok' : result.code, v.name).toBe(v.expect)
    }
  })

  it('should agree with Web Crypto on tickets, shuffle keys and commitments', async () => {
    const ticket = { sale: 'drop-1', shard: 0, seq: 7, pre: true, sub: vectors.sessions.ownerShopper, iat: 1 }
    const viaNode = await signTicket(ticket, secret('grant'))
    const nodeFacts = [await shuffleKey('seed', 'shopper'), await seedCommitment('seed')]
    useTokenCrypto(webTokenCrypto)
    const viaWeb = await signTicket(ticket, secret('grant'))
    const webFacts = [await shuffleKey('seed', 'shopper'), await seedCommitment('seed')]
    useTokenCrypto(nodeTokenCrypto)
    expect(viaNode).toBe(viaWeb)
    expect(nodeFacts).toEqual(webFacts)
    expect((await verifyTicket(viaNode, secret('grant'), { saleId: 'drop-1', shopper: vectors.sessions.ownerShopper })).ok).toBe(true)
    expect((await verifyTicket(viaNode, secret('token'), { saleId: 'drop-1', shopper: vectors.sessions.ownerShopper })).ok).toBe(false)
  })
})
