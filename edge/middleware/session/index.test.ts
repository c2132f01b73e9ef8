import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { shopperOf } from '../../../contracts/index.ts'
import { handleError } from '../../app.ts'
import { session, type SessionOptions } from './index.ts'

const SESSION = 'abcdefghijklmnopqrstuv'

function appWith(options?: SessionOptions) {
  const app = new Hono().get('/x', session(options), (c) =>
    c.json({ session: c.var.session, shopper: c.var.shopper, created: c.var.sessionCreated }),
  )
  app.onError(handleError)
  return app
}

describe('when the request carries a session', () => {
  it('should read it from the header and derive the shopper id', async () => {
    const res = await appWith().request('/x', { headers: { 'x-floodgate-session': SESSION } })

    expect(await res.json()).toEqual({ session: SESSION, shopper: await shopperOf(SESSION), created: false })
  })

  it('should read it from the fg_session cookie', async () => {
    const res = await appWith().request('/x', { headers: { cookie: `fg_session=${SESSION}` } })

    expect(await res.json()).toMatchObject({ session: SESSION })
  })

  it('should answer 400 invalid_session for a malformed value', async () => {
    const res = await appWith({ missing: 'create' }).request('/x', { headers: { 'x-floodgate-session': 'short' } })

    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_session', field: 'x-floodgate-session' } })
  })
})

describe('when the request has no session', () => {
  it('should answer 400 missing_session when one is required', async () => {
    const res = await appWith().request('/x')

    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'missing_session' } })
  })

  it('should mint one and set an HttpOnly, SameSite=Lax cookie when asked to create', async () => {
    const res = await appWith({ missing: 'create' }).request('/x')
    const body = (await res.json()) as { session: string; created: boolean }

    expect(body.created).toBe(true)
    expect(body.session).toMatch(/^[A-Za-z0-9_-]{22}$/)
    const cookie = res.headers.get('set-cookie') ?? ''
    expect(cookie).toContain(`fg_session=${body.session}`)
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Lax/i)
    expect(cookie).toMatch(/Path=\//)
  })
})
