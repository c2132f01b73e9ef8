/**
 * Issue 15: every request body is read as a stream with a byte cap. A 200 MB `transfer-encoding: chunked`
 * POST (no content-length to refuse it by) must be answered 413 without core's memory growing by the body.
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { edgeReceiptHeader, shopperOf } from '../../contracts/index.ts'
import { startTestCore, type TestCore } from '../../test/support/core.ts'

const PROBE_BYTES = 200 * 1024 * 1024
const CHUNK = Buffer.alloc(1024 * 1024, 0x7b)
let core: TestCore

beforeAll(async () => {
  core = await startTestCore(
    { HOST: '127.0.0.1', STRIPE_WEBHOOK_SECRET: 'whsec_body_limit_test_0123' },
    { listen: true },
  )
})
afterAll(async () => {
  await core?.destroy()
})

/** Streams up to PROBE_BYTES of chunked body until core answers; resolves with the status and bytes sent. */
function chunkedProbe(path: string, headers: Record<string, string> = {}): Promise<{ status: number; sent: number }> {
  const { hostname, port } = new URL(core.url!)
  return new Promise((resolve, reject) => {
    let sent = 0
    let answered = false
    const req = request({
      host: hostname,
      port,
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
    })
    req.on('response', (res) => {
      answered = true
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sent }))
      req.destroy()
    })
    req.on('error', (error) => (answered ? undefined : reject(error)))
    const pump = () => {
      while (!answered && sent < PROBE_BYTES) {
        sent += CHUNK.length
        if (!req.write(CHUNK)) return void req.once('drain', pump)
      }
      if (!answered) req.end()
    }
    pump()
  })
}

/** The edge's own headers on a redeem (core's /v1 API answers only the edge). */
async function asEdge(session: string, idk: string): Promise<Record<string, string>> {
  const receipt = await edgeReceiptHeader(core.config.CORE_INTERNAL_TOKEN, 'POST', '/v1/redeem', {
    sub: await shopperOf(session),
    idk,
  })
  return { 'x-floodgate-session': session, 'idempotency-key': idk, ...receipt }
}

describe('when a client streams a 200 MB chunked body', () => {
  it("should answer a redeem without the edge's receipt 401 before reading any of it", {
    timeout: 60_000,
  }, async () => {
    const { status, sent } = await chunkedProbe('/v1/redeem', { 'x-floodgate-session': 'a'.repeat(22) })
    expect(status).toBe(401)
    expect(sent).toBeLessThan(PROBE_BYTES)
  })

  for (const [name, path, headers] of [
    ['redeem (through the edge)', '/v1/redeem', 'edge'],
    ['the Stripe webhook', '/webhooks/stripe', { 'stripe-signature': 't=1,v1=00' }],
    ['an admin route', '/admin/sales', { authorization: 'Bearer dev-only-core-admin-change-me-0123456789abcdef' }],
  ] as const) {
    it(`should answer ${name} 413 body_too_large long before the end, with core's memory within 20 MB`, {
      timeout: 60_000,
    }, async () => {
      global.gc?.()
      const before = process.memoryUsage().rss
      const probeHeaders = headers === 'edge' ? await asEdge('a'.repeat(22), 'probe-key-0001') : headers
      const { status, sent } = await chunkedProbe(path, probeHeaders)
      const grown = process.memoryUsage().rss - before
      expect(status).toBe(413)
      expect(sent).toBeLessThan(PROBE_BYTES)
      expect(grown).toBeLessThan(20 * 1024 * 1024)
    })
  }
})
