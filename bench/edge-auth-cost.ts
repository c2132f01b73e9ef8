/**
 * `npx tsx bench/edge-auth-cost.ts [--json]`: what core's `/v1/*` edge-receipt check costs per request, on a bare
 * Hono app on @hono/node-server (the same stack as core) with a redeem-shaped handler: no middleware, the shared
 * check (`verifyEdgeCall`, as core/http/edge-auth.ts runs it), and a hand-inlined synchronous node:crypto check of
 * the same envelope. Alternating rounds; prints requests/s and CPU µs per request (client and server, one
 * process). The redeem regression in README "Measured" turned out to be elsewhere (the body reader).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { Agent, request } from 'undici'
import { HEADER_EDGE_RECEIPT, signEdgeReceipt, useTokenCrypto, verifyEdgeCall } from '../contracts/index.ts'
import { nodeTokenCrypto } from '../core/crypto/node-token-crypto.ts'

useTokenCrypto(nodeTokenCrypto)
const SECRET = 'bench-edge-auth-secret-0123456789abcdef'
const REQUESTS = 20_000

const shared = createMiddleware(async (c, next) => {
  const req = `${c.req.method} ${new URL(c.req.url).pathname}`
  const verdict = await verifyEdgeCall(c.req.header(HEADER_EDGE_RECEIPT), SECRET, { req, nowMs: Date.now() })
  if (!verdict.ok) return c.json({ error: verdict.code }, 401)
  await next()
})
const inlined = createMiddleware(async (c, next) => {
  const [prefix, body, mac] = (c.req.header(HEADER_EDGE_RECEIPT) ?? '').split('.')
  const expected = createHmac('sha256', SECRET).update(`${prefix}.${body}`).digest()
  const given = Buffer.from(mac ?? '', 'base64url')
  const ok = given.length === expected.length && timingSafeEqual(expected, given)
  const payload = ok ? (JSON.parse(Buffer.from(body!, 'base64url').toString()) as { req?: string }) : null
  if (payload?.req !== 'POST /v1/redeem') return c.json({ error: 'receipt' }, 401)
  await next()
})
const handler = async (c: Context) => {
  const kind = c.req.header('content-type')
  const text = await c.req.text()
  return c.json({ bytes: text.length, kind }, 202)
}
const apps = {
  none: new Hono().post('/v1/redeem', handler),
  shared: new Hono().use('/v1/*', shared).post('/v1/redeem', handler),
  inlined: new Hono().use('/v1/*', inlined).post('/v1/redeem', handler),
}

async function round(app: Hono): Promise<{ perSecond: number; cpuUs: number }> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  const agent = new Agent({ connections: 16 })
  const receipt = await signEdgeReceipt({ at: Date.now(), req: 'POST /v1/redeem', sub: '', idk: '' }, SECRET)
  const headers = { [HEADER_EDGE_RECEIPT]: receipt, 'content-type': 'application/json' }
  const cpu = process.cpuUsage()
  const started = performance.now()
  let sent = 0
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent++ < REQUESTS) {
        const res = await request(`http://127.0.0.1:${port}/v1/redeem`, {
          method: 'POST',
          dispatcher: agent,
          headers,
          body: '{}',
        })
        await res.body.text()
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  await agent.close()
  server.close()
  return { perSecond: Math.round(REQUESTS / seconds), cpuUs: Math.round((used.user + used.system) / REQUESTS) }
}

const results: Record<string, Array<{ perSecond: number; cpuUs: number }>> = { none: [], shared: [], inlined: [] }
for (let i = 0; i < 3; i++) {
  for (const [name, app] of Object.entries(apps)) results[name]!.push(await round(app))
}
const json = process.argv.includes('--json')
for (const [name, runs] of Object.entries(results)) {
  if (!json) console.log(`${name.padEnd(8)} ${runs.map((r) => `${r.perSecond}/s ${r.cpuUs} µs`).join('   ')}`)
}
if (json) console.log(JSON.stringify(results))
