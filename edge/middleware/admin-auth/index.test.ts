import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { Env } from '../../env.ts'
import { handleError } from '../../app.ts'
import { ACCESS_TOKEN_ISSUER, publicKeyOf, signAccessToken } from '../../../contracts/index.ts'
import { adminAuth } from './index.ts'

const bindings = { EDGE_ADMIN_TOKEN: 'the-admin-token' } as Env

function appWith(options?: Parameters<typeof adminAuth>[0]) {
  const app = new Hono<{ Bindings: Env }>().use('*', adminAuth(options)).get('/x', (c) => c.json({ ok: true }))
  app.onError(handleError)
  return app
}

describe('when the bearer token matches', () => {
  it('should let the request through', async () => {
    const res = await appWith().request('/x', { headers: { authorization: 'Bearer the-admin-token' } }, bindings)

    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
  })
})

describe('when the bearer token is missing or wrong', () => {
  for (const [name, header] of [
    ['missing', undefined],
    ['not bearer', 'Basic dGhlOmFkbWlu'],
    ['wrong', 'Bearer the-admin-tokeN'],
    ['a prefix of the right one', 'Bearer the-admin'],
  ] as const) {
    it(`should answer 401 unauthorized (${name})`, async () => {
      const res = await appWith().request('/x', { headers: header ? { authorization: header } : {} }, bindings)

      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="floodgate-admin"')
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized', field: 'authorization' } })
    })
  }
})

describe('when no admin token is configured', () => {
  it('should reject everyone, even an empty bearer', async () => {
    const res = await appWith().request(
      '/x',
      { headers: { authorization: 'Bearer ' } },
      { ...bindings, EDGE_ADMIN_TOKEN: '' },
    )

    expect(res.status).toBe(401)
  })
})

describe("when an account's access token is sent", () => {
  const key = JSON.stringify({
    kty: 'EC',
    crv: 'P-256',
    x: 'cr7KpuC_GKiXafkvKkntUzUaydAtIIsxj7BGqloKwRI',
    y: 'Yh3EmdebY0cELK2f2WtsibvSB3qvpr1H9Gce3oDJq5c',
    d: 'QTCYFUAwBayb-60Gq3ib1I_lFAfvzH-Y7bToNrtgBp4',
  })
  const withKey = { ...bindings, ACCESS_TOKEN_PUBLIC_KEY: publicKeyOf(key) } as Env
  const tokenOf = async (role: 'operator' | 'customer', signer = key) => {
    const iat = Math.floor(Date.now() / 1000)
    const sub = `acc_${'c'.repeat(32)}`
    return signAccessToken({ iss: ACCESS_TOKEN_ISSUER, sub, role, sid: 'fam_x', iat, exp: iat + 600 }, signer)
  }

  const asBearer = async (token: Promise<string>) => ({ headers: { authorization: `Bearer ${await token}` } })

  it("should let an operator's token through and refuse a customer's with 403", async () => {
    const operator = await appWith().request('/x', await asBearer(tokenOf('operator')), withKey)
    const customer = await appWith().request('/x', await asBearer(tokenOf('customer')), withKey)

    expect(operator.status).toBe(200)
    expect(customer.status).toBe(403)
    expect(await customer.json()).toMatchObject({ error: { code: 'forbidden', field: 'authorization' } })
  })

  it('should refuse a token signed with another key, and any token when operators are not accepted', async () => {
    const other = JSON.stringify({
      kty: 'EC',
      crv: 'P-256',
      x: 'LaallaVARIWBTppKCfKz7x1ju9raJ3wXjGM6EjbOFcM',
      y: 'sHBqtTUF_GSzsHNpEpmNyQMylH2rhbs7At6PtDHRkSI',
      d: 'xU40KuWc6wLaa2LDdxazxNRhJwMQtWPBQqcZedK7Oos',
    })
    const forged = await appWith().request('/x', await asBearer(tokenOf('operator', other)), withKey)
    const closed = await appWith({ operators: false }).request('/x', await asBearer(tokenOf('operator')), withKey)

    expect(forged.status).toBe(401)
    expect(await forged.json()).toMatchObject({ error: { code: 'access_token_bad_signature' } })
    expect(closed.status).toBe(401)
  })
})
