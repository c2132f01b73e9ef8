import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import vectors from '../../contracts/vectors.json'
import {
  seedCommitment,
  shuffleKey,
  signTicket,
  tokenCrypto,
  useTokenCrypto,
  verifyTicket,
  webTokenCrypto,
} from '../../contracts/index.ts'
import { vectorVerdicts } from '../../contracts/vectors.ts'
import { nodeTokenCrypto } from './node-token-crypto.ts'

const secret = (name: string) => vectors.secrets[name as keyof typeof vectors.secrets]

describe('when core swaps Web Crypto for node:crypto', () => {
  beforeAll(() => useTokenCrypto(nodeTokenCrypto))
  afterAll(() => useTokenCrypto(webTokenCrypto))

  it('should sign, hash and verify every vector exactly as Web Crypto does', async () => {
    expect(tokenCrypto()).toBe(nodeTokenCrypto)
    for (const { name, expected, actual } of await vectorVerdicts()) expect(actual, name).toBe(expected)
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
    expect(
      (await verifyTicket(viaNode, secret('grant'), { saleId: 'drop-1', shopper: vectors.sessions.ownerShopper })).ok,
    ).toBe(true)
    expect(
      (await verifyTicket(viaNode, secret('token'), { saleId: 'drop-1', shopper: vectors.sessions.ownerShopper })).ok,
    ).toBe(false)
  })
})

describe('node:crypto base64url', () => {
  it('should encode and decode exactly as contracts does, refusing the same inputs', async () => {
    const { base64urlDecode, base64urlEncode } = await import('../../contracts/token.ts')
    const inputs = [
      '',
      'A',
      'AA',
      'AAA',
      'AAAA',
      'AB',
      'AB==',
      'a+b',
      'a/b',
      'ab.c',
      'ab c',
      '_-_-',
      'eyJ0eXAiOiJwdCJ9',
      'eyJ0eXAiOiJwdCJ9x',
      'eyJ0eXAiOiJwdCJ9xy',
      'é',
    ]
    for (let n = 0; n < 64; n++) inputs.push(base64urlEncode(crypto.getRandomValues(new Uint8Array(n))))
    for (const text of inputs) {
      const mine = nodeTokenCrypto.base64urlDecode!(text)
      const theirs = base64urlDecode(text)
      expect(mine === null ? null : [...mine], text).toEqual(theirs === null ? null : [...theirs])
    }
    for (let n = 0; n < 64; n++) {
      const bytes = crypto.getRandomValues(new Uint8Array(n))
      expect(nodeTokenCrypto.base64urlEncode!(bytes)).toBe(base64urlEncode(bytes))
      expect(nodeTokenCrypto.base64urlEncode!(bytes.subarray(1))).toBe(base64urlEncode(bytes.subarray(1)))
    }
  })
})
