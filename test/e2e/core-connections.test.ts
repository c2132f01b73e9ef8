/**
 * The edge keeps its connections to core (the real edge in workerd via Miniflare, the real core): workerd reuses
 * a connection only once the last response on it was read to the end, so an answer the edge drops unread (an
 * admitted shopper's order lookup that finds no order yet, 404) made every such poll open a new connection to
 * core (README "Measured": 631 connections for ~1,250 calls in a 100/s bench:shoppers run).
 */
import type { Server } from 'node:http'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { randomId, type RoomStatus } from '../../contracts/index.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'
import { createSale } from '../../token-issuer/issuer.ts'
import { pollRoom } from '../support/edge-shoppers.ts'

let stack: LocalStack

beforeAll(async () => {
  stack = await startLocalStack()
}, 60_000)
afterAll(async () => {
  await stack?.stop()
})

it('answers 30 polls of an admitted shopper (each asking core for its order: none yet) on reused connections', async () => {
  const saleId = `conn-${Date.now().toString(36)}`
  await createSale(stack.issuerConfig(), {
    saleId,
    sku: 'CONN-1',
    name: 'Connection reuse',
    priceCents: 1000,
    stock: 1,
    perShopperLimit: 1,
    tokenTtlSeconds: 120,
    holdTtlSeconds: 60,
    startsAt: new Date().toISOString(),
    admitPerMinute: 600,
  })
  const session = randomId()
  const joined = await fetch(`${stack.edgeUrl}/api/sales/${saleId}/join`, {
    method: 'POST',
    headers: { 'x-floodgate-session': session },
  })
  expect(joined.status).toBe(200)
  const shopper = { session, ticket: ((await joined.json()) as RoomStatus).ticket! }
  const deadline = Date.now() + 30_000
  let status = await pollRoom(stack.edgeUrl, saleId, shopper)
  while (status.state !== 'admitted' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    status = await pollRoom(stack.edgeUrl, saleId, shopper)
  }
  expect(status.state).toBe('admitted')

  let opened = 0
  let orderLookups = 0
  const server = stack.core.server as Server
  const onConnection = () => opened++
  const onRequest = (req: { url?: string }) => {
    if (req.url?.startsWith('/v1/orders/')) orderLookups++
  }
  server.on('connection', onConnection)
  server.on('request', onRequest)
  try {
    for (let i = 0; i < 30; i++) {
      const again = await pollRoom(stack.edgeUrl, saleId, shopper)
      expect(again.state).toBe('admitted')
      expect(again.order).toBeUndefined()
    }
  } finally {
    server.off('connection', onConnection)
    server.off('request', onRequest)
  }
  expect(orderLookups).toBe(30)
  expect(opened).toBeLessThanOrEqual(3)
}, 60_000)
