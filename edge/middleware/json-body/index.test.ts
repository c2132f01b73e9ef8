import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { handleError } from '../../app.ts'
import { jsonBody } from './index.ts'

const Schema = z.object({ name: z.string(), items: z.array(z.number().int()).default([]) }).strict()

function appWith(maxBytes = 64) {
  const app = new Hono().post('/x', jsonBody({ schema: Schema, maxBytes }), (c) => c.json(c.var.body))
  app.onError(handleError)
  return app
}

const post = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  appWith().request('/x', { method: 'POST', body, headers })

describe('when the body is valid JSON for the schema', () => {
  it('should put the parsed body, defaults applied, on c.var.body', async () => {
    const res = await post(JSON.stringify({ name: 'a' }))

    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ name: 'a', items: [] })
  })
})

describe('when the body is not acceptable', () => {
  it('should answer 400 invalid_json for malformed JSON', async () => {
    const res = await post('{"name": ')

    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } })
  })

  it('should answer 400 invalid_json for an empty body', async () => {
    const res = await post('')

    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } })
  })

  it('should answer 400 invalid_body naming the field for a wrong type', async () => {
    const res = await post(JSON.stringify({ name: 'a', items: [1, 'two'] }))

    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_body', field: 'items.1' } })
  })

  it('should answer 400 invalid_body naming a missing field', async () => {
    const res = await post(JSON.stringify({ items: [] }))

    expect(await res.json()).toMatchObject({ error: { code: 'invalid_body', field: 'name' } })
  })

  it('should answer 413 body_too_large over the limit, with or without content-length', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(100) })
    const declared = await post(JSON.stringify({ name: 'a' }), {
      'content-type': 'application/json',
      'content-length': '100000',
    })
    const streamed = await post(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(big))
          controller.close()
        },
      }),
    )

    for (const res of [declared, streamed]) {
      expect(res.status).toBe(413)
      expect(await res.json()).toMatchObject({ error: { code: 'body_too_large' } })
    }
  })

  it('should answer 415 unsupported_media_type for a form post', async () => {
    const res = await post('name=a', { 'content-type': 'application/x-www-form-urlencoded' })

    expect(res.status).toBe(415)
    expect(await res.json()).toMatchObject({ error: { code: 'unsupported_media_type', field: 'content-type' } })
  })
})
