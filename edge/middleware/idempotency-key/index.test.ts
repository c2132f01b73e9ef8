import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { handleError } from '../../app.ts'
import { idempotencyKey } from './index.ts'

const app = new Hono().post('/x', idempotencyKey(), (c) => c.json({ key: c.var.idempotencyKey }))
app.onError(handleError)

describe('when the idempotency key is present and well formed', () => {
  it('should expose it as c.var.idempotencyKey', async () => {
    const res = await app.request('/x', { method: 'POST', headers: { 'idempotency-key': 'order:2026-01-01.a_b' } })

    expect(await res.json()).toEqual({ key: 'order:2026-01-01.a_b' })
  })
})

describe('when the idempotency key is missing or malformed', () => {
  it('should answer 400 missing_idempotency_key without one', async () => {
    const res = await app.request('/x', { method: 'POST' })

    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'missing_idempotency_key', field: 'idempotency-key' } })
  })

  it('should answer 400 invalid_idempotency_key for a bad one', async () => {
    for (const key of ['short', 'has space in it', 'x'.repeat(256)]) {
      const res = await app.request('/x', { method: 'POST', headers: { 'idempotency-key': key } })

      expect(await res.json()).toMatchObject({ error: { code: 'invalid_idempotency_key' } })
    }
  })
})
