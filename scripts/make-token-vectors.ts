/**
 * Regenerates contracts/vectors.json. The vectors are committed; edge (workerd) and core (Node)
 * tests both check them, so a change in either runtime's crypto or encoding shows up as a failure.
 * Run: npx tsx scripts/make-token-vectors.ts
 */
import { writeFileSync } from 'node:fs'
import { shopperOfAccount } from '../contracts/account.ts'
import { publicKeyOf, signAccessToken } from '../contracts/access-token.ts'
import { signEdgeReceipt } from '../contracts/edge-receipt.ts'
import { orderIdOf, shopperOf, signGrant, signPurchaseToken } from '../contracts/token.ts'

const TOKEN_SECRET = 'vector-token-secret-0123456789abcdef'
const GRANT_SECRET = 'vector-grant-secret-0123456789abcdef'
const OTHER_SECRET = 'some-other-secret-that-is-not-ours-00'
const NOW = 1_790_000_000_000
const session = 'vector-session-aaaaaaaaaaaaaaaa'
const otherSession = 'vector-session-bbbbbbbbbbbbbbbb'

const shopper = await shopperOf(session)
const tokenPayload = { sale: 'drop-1', tid: 'tok_AAAAAAAAAAAAAAAA', iat: 1_789_999_000 }
const token = await signPurchaseToken(tokenPayload, TOKEN_SECRET)
const grantPayload = {
  sale: 'drop-1',
  tid: tokenPayload.tid,
  gen: 1,
  sub: shopper,
  iat: 1_789_999_900,
  exp: NOW + 60_000,
}
const grant = await signGrant(grantPayload, GRANT_SECRET)

const [head, body, mac] = token.split('.') as [string, string, string]
const flipped = mac.slice(0, -2) + (mac.at(-2) === 'A' ? 'B' : 'A') + mac.at(-1)
const tamperedBody = Buffer.from(
  JSON.stringify({ typ: 'pt', sale: 'drop-1', tid: 'tok_BBBBBBBBBBBBBBBB', iat: tokenPayload.iat }),
).toString('base64url')

const receiptPayload = { at: NOW - 3_000, req: 'POST /v1/redeem', sub: shopper, idk: 'vector-key-0001' }
const receipt = await signEdgeReceipt(receiptPayload, GRANT_SECRET)
const expectReceipt = { req: receiptPayload.req, sub: shopper, idk: receiptPayload.idk }

// ECDSA signatures are randomized: a rerun gives other (equally valid) access tokens.
const ACCESS_KEY = JSON.stringify({
  kty: 'EC',
  crv: 'P-256',
  x: 'LaallaVARIWBTppKCfKz7x1ju9raJ3wXjGM6EjbOFcM',
  y: 'sHBqtTUF_GSzsHNpEpmNyQMylH2rhbs7At6PtDHRkSI',
  d: 'xU40KuWc6wLaa2LDdxazxNRhJwMQtWPBQqcZedK7Oos',
})
const OTHER_ACCESS_KEY = JSON.stringify({
  kty: 'EC',
  crv: 'P-256',
  x: 'cr7KpuC_GKiXafkvKkntUzUaydAtIIsxj7BGqloKwRI',
  y: 'Yh3EmdebY0cELK2f2WtsibvSB3qvpr1H9Gce3oDJq5c',
  d: 'QTCYFUAwBayb-60Gq3ib1I_lFAfvzH-Y7bToNrtgBp4',
})
const accountId = 'acc_0123456789abcdef0123456789abcdef'
const claims = {
  iss: 'floodgate' as const,
  sub: accountId,
  role: 'customer' as const,
  sid: 'fam_vector',
  iat: NOW / 1000 - 60,
  exp: NOW / 1000 + 540,
}
const access = await signAccessToken(claims, ACCESS_KEY)
const [accessHead, accessBody, accessSig] = access.split('.') as [string, string, string]
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
const accessCase = (name: string, token: string, key: string, nowMs: number, expect: string) => ({
  name,
  token,
  key,
  nowMs,
  expect,
})

const vectors = {
  secrets: { token: TOKEN_SECRET, grant: GRANT_SECRET, other: OTHER_SECRET },
  nowMs: NOW,
  sessions: { owner: session, ownerShopper: shopper, other: otherSession, otherShopper: await shopperOf(otherSession) },
  signing: [
    { kind: 'token', payload: tokenPayload, secret: 'token', expected: token },
    { kind: 'grant', payload: grantPayload, secret: 'grant', expected: grant },
  ],
  tokens: [
    { name: 'valid', token, secret: 'token', saleId: 'drop-1', expect: 'ok' },
    {
      name: 'tampered payload',
      token: `${head}.${tamperedBody}.${mac}`,
      secret: 'token',
      saleId: 'drop-1',
      expect: 'token_bad_signature',
    },
    {
      name: 'tampered mac',
      token: `${head}.${body}.${flipped}`,
      secret: 'token',
      saleId: 'drop-1',
      expect: 'token_bad_signature',
    },
    { name: 'wrong key', token, secret: 'other', saleId: 'drop-1', expect: 'token_bad_signature' },
    { name: 'wrong sale', token, secret: 'token', saleId: 'drop-2', expect: 'token_wrong_sale' },
    { name: 'not a token', token: 'hello', secret: 'token', saleId: 'drop-1', expect: 'token_malformed' },
    { name: 'grant presented as token', token: grant, secret: 'token', saleId: 'drop-1', expect: 'token_malformed' },
    { name: 'bad base64', token: `${head}.!!!.${mac}`, secret: 'token', saleId: 'drop-1', expect: 'token_malformed' },
  ],
  grants: [
    { name: 'valid', grant, secret: 'grant', session: 'owner', nowMs: NOW, expect: 'ok' },
    { name: 'expired', grant, secret: 'grant', session: 'owner', nowMs: NOW + 60_000, expect: 'grant_expired' },
    { name: 'other session', grant, secret: 'grant', session: 'other', nowMs: NOW, expect: 'grant_session_mismatch' },
    { name: 'wrong key', grant, secret: 'other', session: 'owner', nowMs: NOW, expect: 'grant_bad_signature' },
    {
      name: 'token presented as grant',
      grant: token,
      secret: 'grant',
      session: 'owner',
      nowMs: NOW,
      expect: 'grant_malformed',
    },
    {
      name: 'grant for another token',
      grant: await signGrant({ ...grantPayload, tid: 'tok_CCCCCCCCCCCCCCCC' }, GRANT_SECRET),
      secret: 'grant',
      session: 'owner',
      nowMs: NOW,
      expect: 'grant_token_mismatch',
    },
  ],
  orderIds: [
    { saleId: 'drop-1', tid: tokenPayload.tid, gen: 1, expected: await orderIdOf('drop-1', tokenPayload.tid, 1) },
  ],
  receipts: [
    { name: 'valid', receipt, secret: 'grant', ...expectReceipt, nowMs: NOW, expect: 'ok' },
    { name: 'edge clock ahead', receipt, secret: 'grant', ...expectReceipt, nowMs: NOW - 5_000, expect: 'ok' },
    {
      name: 'past the window, still the edge',
      receipt,
      secret: 'grant',
      ...expectReceipt,
      nowMs: NOW + 8_000,
      expect: 'ok',
    },
    { name: 'too old', receipt, secret: 'grant', ...expectReceipt, nowMs: NOW + 58_000, expect: 'receipt_stale' },
    { name: 'other key', receipt, secret: 'other', ...expectReceipt, nowMs: NOW, expect: 'receipt_bad_signature' },
    {
      name: 'other request',
      receipt,
      secret: 'grant',
      ...expectReceipt,
      idk: 'vector-key-0002',
      nowMs: NOW,
      expect: 'receipt_mismatch',
    },
    {
      name: 'grant presented as receipt',
      receipt: grant,
      secret: 'grant',
      ...expectReceipt,
      nowMs: NOW,
      expect: 'receipt_malformed',
    },
  ],
  accessKeys: { vector: publicKeyOf(ACCESS_KEY), other: publicKeyOf(OTHER_ACCESS_KEY) },
  accounts: [{ id: accountId, shopper: await shopperOfAccount(accountId) }],
  accessTokens: [
    accessCase('valid', access, 'vector', NOW, 'ok'),
    accessCase('expired', access, 'vector', (claims.exp + 1) * 1000, 'access_token_expired'),
    accessCase('other key', access, 'other', NOW, 'access_token_bad_signature'),
    accessCase(
      'role raised',
      `${accessHead}.${b64({ ...claims, role: 'operator' })}.${accessSig}`,
      'vector',
      NOW,
      'access_token_bad_signature',
    ),
    accessCase(
      'alg none',
      `${b64({ alg: 'none', typ: 'JWT' })}.${accessBody}.`,
      'vector',
      NOW,
      'access_token_malformed',
    ),
    accessCase(
      'alg HS256',
      `${b64({ alg: 'HS256', typ: 'JWT' })}.${accessBody}.${accessSig}`,
      'vector',
      NOW,
      'access_token_malformed',
    ),
    accessCase(
      'short signature',
      `${accessHead}.${accessBody}.${accessSig.slice(0, 40)}`,
      'vector',
      NOW,
      'access_token_malformed',
    ),
    accessCase('not a token', 'hello', 'vector', NOW, 'access_token_malformed'),
    accessCase('grant presented', grant, 'vector', NOW, 'access_token_malformed'),
  ],
}
writeFileSync(new URL('../contracts/vectors.json', import.meta.url), JSON.stringify(vectors, null, 2) + '\n')
console.log('wrote contracts/vectors.json')
