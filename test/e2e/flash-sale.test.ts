/**
 * End to end across the real edge (Hono + WaitingRoom Durable Object in workerd, via Miniflare) and the
 * real core (Hono on Node, Redis Lua, Postgres, BullMQ workers). Shoppers only speak HTTP to the edge.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomId, type ErrorBody, type RoomStatus } from '../../contracts/index.ts'
import { spawnCrowd } from '../../bench/shoppers.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'
import { SimulatedGateway } from '../../core/payment/simulated-gateway.ts'
import { createSale, roomStats, saleInvariant, type IssuerConfig } from '../../token-issuer/issuer.ts'
import { snapshotState } from '../support/state.ts'

let stack: LocalStack
let cfg: IssuerConfig
const gateway = new SimulatedGateway({ latencyMs: 5 })

beforeAll(async () => {
  stack = await startLocalStack({ gateway, env: { HOLD_SWEEP_INTERVAL_MS: '1000' } })
  cfg = stack.issuerConfig()
}, 60_000)
afterAll(async () => {
  await stack?.stop()
})

async function sale(saleId: string, stock: number, extra: Record<string, unknown> = {}) {
  await createSale(cfg, {
    saleId,
    sku: 'E2E-1',
    name: 'End to end',
    priceCents: 1999,
    stock,
    startsAt: new Date().toISOString(),
    admitPerMinute: 60_000,
    holdTtlSeconds: 30,
    ...extra,
  })
}

async function settledInvariant(saleId: string) {
  const deadline = Date.now() + 30_000
  for (;;) {
    const report = await saleInvariant(cfg, saleId)
    if ((report.redis.held === 0 && report.postgres.pending === 0) || Date.now() > deadline) return report
    await sleep(200)
  }
}

function withFailureRate(rate: number) {
  const flaky = new SimulatedGateway({ latencyMs: 5, failureRate: rate })
  stack.core.gateway.authorize = flaky.authorize.bind(flaky)
  return () => {
    stack.core.gateway.authorize = gateway.authorize.bind(gateway)
  }
}

describe('when 1,000 shoppers chase 200 units', () => {
  it('should confirm exactly 200 orders, oversell nothing and tell everyone else sold out', async () => {
    await sale('e2e-200', 200)
    const run = await spawnCrowd({ edgeUrl: stack.edgeUrl, saleId: 'e2e-200', shoppers: 1000 })
    const report = await settledInvariant('e2e-200')
    expect(run.byOutcome).toMatchObject({ confirmed: 200, sold_out: 800, error: 0, gave_up: 0, refused: 0 })
    expect(run.errors5xx).toBe(0)
    expect(report.postgres.confirmed).toBe(200)
    expect(report.postgres.tokensWithTwoConfirmedOrders).toBe(0)
    expect(report.postgres.shoppersOverLimit).toBe(0)
    expect(report.redis).toEqual({ available: 0, held: 0, sold: 200 })
    expect(report.ok).toBe(true)
    const captures = [...gateway.ledger.values()].filter((e) => e.state === 'captured')
    expect(new Set(captures.map((e) => e.orderId)).size).toBe(captures.length)
  })
})

describe('when 30% of payments fail', () => {
  it('should give every failed unit to the next shopper in line and still end at 200 confirmed', async () => {
    await sale('e2e-flaky', 200)
    const restore = withFailureRate(0.3)
    try {
      const run = await spawnCrowd({ edgeUrl: stack.edgeUrl, saleId: 'e2e-flaky', shoppers: 1000 })
      const report = await settledInvariant('e2e-flaky')
      expect(run.byOutcome.confirmed).toBe(200)
      expect(run.byOutcome.payment_failed).toBeGreaterThan(40)
      expect(run.byOutcome.error + run.byOutcome.gave_up + run.byOutcome.refused).toBe(0)
      expect(run.errors5xx).toBe(0)
      expect(report.postgres.confirmed).toBe(200)
      expect(report.postgres.failed).toBe(run.byOutcome.payment_failed)
      expect(report.ok).toBe(true)
      const room = await roomStats(cfg, 'e2e-flaky')
      expect(room).toMatchObject({ tokensLoaded: 200, sold: 200, available: 0, granted: 0, redeemed: 0 })
      expect(room.recycled).toBe(run.byOutcome.payment_failed)
    } finally {
      restore()
    }
  })
})

describe('when an admitted shopper never redeems', () => {
  it('should void the lapsed grant and hand the token to the next shopper, who can buy it', async () => {
    await sale('e2e-lapse', 1, { tokenTtlSeconds: 5 })
    const idle = await joinAs('e2e-lapse')
    const next = await joinAs('e2e-lapse')
    const idleAdmitted = await waitFor(
      () => poll(idle),
      (s) => s.state === 'admitted',
      5_000,
    )
    expect((await poll(next)).state).toBe('waiting')
    // the grant lapses (5 s), the room asks core to fence it, and the token moves on
    const nextAdmitted = await waitFor(
      () => poll(next),
      (s) => s.state === 'admitted',
      25_000,
    )
    expect(nextAdmitted.token).toBe(idleAdmitted.token)
    expect(nextAdmitted.grant).not.toBe(idleAdmitted.grant)
    // the lapsed shopper's grant can no longer buy, even though it is signed
    const late = await redeem(idle.session, idleAdmitted)
    expect(late.status).toBe(410)
    const ok = await redeem(next.session, nextAdmitted)
    expect(ok.status).toBe(202)
    const report = await settledInvariant('e2e-lapse')
    expect(report.postgres.confirmed).toBe(1)
    expect(report.ok).toBe(true)
  }, 45_000)
})

describe('when an attacker replays and forges through the edge', () => {
  it('should refuse with distinct 4xx codes and leave Redis and Postgres unchanged', async () => {
    await sale('e2e-abuse', 2)
    const victim = await joinAs('e2e-abuse')
    const admitted = await waitFor(
      () => poll(victim),
      (s) => s.state === 'admitted',
      5_000,
    )
    const attacker = await joinAs('e2e-abuse')
    const before = await snapshotState(stack.core.redis, stack.core.db, stack.config.REDIS_PREFIX)
    const codes = []
    // stolen grant from another session
    codes.push(await errorCode(await redeem(attacker.session, admitted)))
    // tampered token
    codes.push(
      await errorCode(await redeem(victim.session, { ...admitted, token: admitted.token!.slice(0, -3) + 'AAA' })),
    )
    // forged grant
    codes.push(
      await errorCode(
        await redeem(victim.session, { ...admitted, grant: admitted.grant!.replace(/\.[^.]+$/, '.' + 'A'.repeat(43)) }),
      ),
    )
    // malformed body, missing key
    const bad = await fetch(`${stack.edgeUrl}/api/sales/e2e-abuse/redeem`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-floodgate-session': victim.session,
        'idempotency-key': randomUUID(),
      },
      body: '{"token": 1',
    })
    codes.push(await errorCode(bad))
    expect(codes).toEqual(['grant_session_mismatch', 'token_bad_signature', 'grant_bad_signature', 'invalid_json'])
    expect(await snapshotState(stack.core.redis, stack.core.db, stack.config.REDIS_PREFIX)).toEqual(before)
  })
})

async function waitFor<T>(get: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await get()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`)
    await sleep(250)
  }
}

/** A shopper (an app: its own session id in the header) who joined `saleId`, with the queue ticket it was given. */
async function joinAs(saleId: string): Promise<Shopper> {
  const session = randomId()
  const res = await fetch(`${stack.edgeUrl}/api/sales/${saleId}/join`, {
    method: 'POST',
    headers: { 'x-floodgate-session': session },
  })
  expect(res.status).toBe(200)
  return { saleId, session, ticket: ((await res.json()) as RoomStatus).ticket! }
}

type Shopper = { saleId: string; session: string; ticket: string }

async function poll(shopper: Shopper): Promise<RoomStatus> {
  const res = await fetch(`${stack.edgeUrl}/api/sales/${shopper.saleId}/status`, {
    headers: { 'x-floodgate-session': shopper.session, 'x-floodgate-ticket': shopper.ticket },
  })
  return (await res.json()) as RoomStatus
}

function redeem(session: string, status: Pick<RoomStatus, 'token' | 'grant' | 'saleId'>) {
  return fetch(`${stack.edgeUrl}/api/sales/${status.saleId}/redeem`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-floodgate-session': session, 'idempotency-key': randomUUID() },
    body: JSON.stringify({ token: status.token, grant: status.grant }),
  })
}

async function errorCode(res: Response): Promise<string> {
  expect(res.status).toBeGreaterThanOrEqual(400)
  expect(res.status).toBeLessThan(500)
  return ((await res.json()) as ErrorBody).error.code
}
