import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { Env } from '../../env.ts'
import { handleError } from '../../app.ts'
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
    const res = await appWith().request('/x', { headers: { authorization: 'Bearer ' } }, { ...bindings, EDGE_ADMIN_TOKEN: '' })

    expect(res.status).toBe(401)
  })
})
