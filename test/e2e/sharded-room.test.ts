/**
 * End to end with a sharded waiting room (4 Durable Objects) across the real edge (workerd via Miniflare) and
 * the real core: units that come back — a grant that lapses unredeemed, a payment that fails — go to the next
 * shopper in line within TTL + 10 s, even when the unit's own shard has nobody waiting (tokens are pinned to
 * shards by id; other shards borrow them), never to two holders at once; a shard with no tokens of its own never
 * tells its line "sold out" while units can still come back; and the sale ends with every unit sold.
 *
 * Shoppers are placed on purpose: the test picks sessions whose shopper lands in the shard it wants, and a sale
 * id whose two tokens land in different shards, by the room's own shard rule (waiting-room/sharding.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RoomStatus } from '../../contracts/index.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'
import { SimulatedGateway } from '../../core/payment/simulated-gateway.ts'
import {
  createSale,
  roomReport,
  roomStats,
  saleInvariant,
  tokenId,
  type IssuerConfig,
} from '../../token-issuer/issuer.ts'
import { tokenShard } from '../../waiting-room/sharding.ts'
import { joinInShard, orderOutcome, pollRoom } from '../support/edge-shoppers.ts'

const SHARDS = 4
const TTL_SECONDS = 5
/** The bound: a unit that comes back reaches the next shopper within TTL + 10 s. */
const HANDOVER_MS = (TTL_SECONDS + 10) * 1000

let stack: LocalStack
let cfg: IssuerConfig

beforeAll(async () => {
  stack = await startLocalStack({
    gateway: new SimulatedGateway({ latencyMs: 5 }),
    env: { HOLD_SWEEP_INTERVAL_MS: '1000' },
  })
  cfg = stack.issuerConfig()
}, 60_000)
afterAll(async () => {
  await stack?.stop()
})

type Shopper = { name: string; session: string; ticket: string; shard: number }

function ticketShard(ticket: string): number {
  const payload = ticket.split('.')[1]!
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { shard: number }).shard
}

async function join(saleId: string, name: string, shard: number): Promise<Shopper> {
  const { session, status: body } = await joinInShard(stack.edgeUrl, saleId, shard, SHARDS)
  expect(ticketShard(body.ticket!)).toBe(shard)
  return { name, session, ticket: body.ticket!, shard }
}

const poll = (saleId: string, s: Shopper) => pollRoom(stack.edgeUrl, saleId, s)

function redeem(s: Shopper, status: RoomStatus, paymentMethod?: string) {
  return fetch(`${stack.edgeUrl}/api/sales/${status.saleId}/redeem`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-floodgate-session': s.session, 'idempotency-key': randomUUID() },
    body: JSON.stringify({ token: status.token, grant: status.grant, ...(paymentMethod ? { paymentMethod } : {}) }),
  })
}

async function buy(s: Shopper, grant: RoomStatus): Promise<void> {
  const res = await redeem(s, grant)
  expect(res.status).toBe(202)
  expect(await outcomeOf(s, ((await res.json()) as { orderId: string }).orderId)).toBe('confirmed')
}

const outcomeOf = (s: Shopper, orderId: string) => orderOutcome(stack.edgeUrl, s.session, orderId)

/**
 * Polls everyone every 250 ms until `done`; records every state seen, and fails at once if anyone is told
 * sold out before `soldOutAllowed()`, or if two shoppers hold a live grant for the same token at once.
 */
async function watchUntil(
  saleId: string,
  shoppers: Shopper[],
  done: (seen: Map<string, RoomStatus>) => boolean,
  timeoutMs: number,
  soldOutAllowed: () => boolean = () => false,
): Promise<Map<string, RoomStatus>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const seen = new Map<string, RoomStatus>()
    for (const s of shoppers) seen.set(s.name, await poll(saleId, s))
    const now = Date.now()
    const live = [...seen.entries()].filter(([, st]) => st.state === 'admitted' && st.grantExpiresAt! > now)
    const byToken = new Map<string, string[]>()
    for (const [name, st] of live) byToken.set(st.token!, [...(byToken.get(st.token!) ?? []), name])
    for (const [, holders] of byToken) expect(holders, 'two live holders of one token').toHaveLength(1)
    if (!soldOutAllowed()) {
      for (const [name, st] of seen) {
        expect(st.state, `${name} told sold out while units could come back`).not.toBe('sold_out')
      }
    }
    if (done(seen)) return seen
    if (now > deadline) {
      const last = JSON.stringify(Object.fromEntries([...seen].map(([n, st]) => [n, st.state])))
      throw new Error(`timed out; last: ${last}`)
    }
    await sleep(250)
  }
}

describe('when a sale runs on 4 shards and units come back', () => {
  const title =
    'should hand a lapsed grant and a failed payment to the next shoppers in line across shards, then sell out exactly'
  it(title, async () => {
    // Two units, pinned to two different shards (E and F); the line waits in a third shard (G) that holds none.
    let saleId = ''
    let tokenShards: number[] = []
    for (let k = 0; ; k++) {
      saleId = `e2e-shards-${k}`
      tokenShards = [0, 1].map((i) => tokenShard(tokenId(stack.config.TOKEN_SECRET, saleId, i), SHARDS))
      if (tokenShards[0] !== tokenShards[1]) break
    }
    const [E, F] = tokenShards as [number, number]
    const G = [0, 1, 2, 3].find((s) => s !== E && s !== F)!
    await createSale(cfg, {
      saleId,
      sku: 'E2E-SHARDS',
      name: 'Sharded drop',
      priceCents: 1999,
      stock: 2,
      startsAt: new Date().toISOString(),
      admitPerMinute: 60_000,
      tokenTtlSeconds: TTL_SECONDS,
      holdTtlSeconds: 30,
      shards: SHARDS,
      // Shoppers are placed in shards by their session here (the shard rule under test): no per-network cap,
      // which would place one network's shoppers (this test's one address) together.
      maxPlacesPerIp: 0,
    })
    expect(await roomStats(cfg, saleId)).toMatchObject({ shards: SHARDS, tokensLoaded: 2 })

    // idle: admitted in E, never redeems. flaky: admitted in F, its payment is declined.
    // w1, w2, w3: wait, in that order, in G, a shard with no token of its own.
    const idle = await join(saleId, 'idle', E)
    const flaky = await join(saleId, 'flaky', F)
    const w1 = await join(saleId, 'w1', G)
    const w2 = await join(saleId, 'w2', G)
    const w3 = await join(saleId, 'w3', G)
    const everyone = [idle, flaky, w1, w2, w3]

    const bothAdmitted = (seen: Map<string, RoomStatus>) =>
      seen.get('idle')!.state === 'admitted' && seen.get('flaky')!.state === 'admitted'
    const first = await watchUntil(saleId, everyone, bothAdmitted, 10_000)
    for (const w of ['w1', 'w2', 'w3']) expect(first.get(w)).toMatchObject({ state: 'waiting', unitsLeft: 2 })
    const idleGrant = first.get('idle')!
    const flakyGrant = first.get('flaky')!

    // flaky's payment is declined: the unit goes back to F, whose line is empty, and on to w1 in G.
    const declinedAt = Date.now()
    const declined = await redeem(flaky, flakyGrant, 'pm_card_chargeDeclined')
    expect(declined.status).toBe(202)
    const declinedOrder = ((await declined.json()) as { orderId: string }).orderId
    expect(await outcomeOf(flaky, declinedOrder)).toBe('failed')
    const afterDecline = await watchUntil(saleId, everyone, (seen) => seen.get('w1')!.state === 'admitted', HANDOVER_MS)
    expect(Date.now() - declinedAt).toBeLessThan(HANDOVER_MS)
    expect(afterDecline.get('w1')!.token).toBe(flakyGrant.token)
    expect(afterDecline.get('w2')!.state).toBe('waiting')
    // flaky's grant was spent on the declined order: it cannot buy the unit again; paying again only answers
    // the order that grant already made (failed). w1 buys it.
    const again = await redeem(flaky, flakyGrant)
    expect(again.status).toBe(202)
    expect(await again.json()).toMatchObject({ orderId: declinedOrder, status: 'failed', replayed: true })
    await buy(w1, afterDecline.get('w1')!)

    // idle's grant lapses: core fences it, E takes the token back (E's line is empty) and w2 in G gets it.
    const w2Admitted = (seen: Map<string, RoomStatus>) => seen.get('w2')!.state === 'admitted'
    const afterLapse = await watchUntil(saleId, everyone, w2Admitted, HANDOVER_MS + 5_000)
    expect(Date.now()).toBeLessThan(idleGrant.grantExpiresAt! + HANDOVER_MS)
    expect(afterLapse.get('w2')!.token).toBe(idleGrant.token)
    expect(afterLapse.get('w2')!.grant).not.toBe(idleGrant.grant)
    expect(afterLapse.get('idle')!.state).toBe('expired')
    expect(afterLapse.get('w3')!.state).toBe('waiting')
    expect((await redeem(idle, idleGrant)).status).toBe(410)

    // w2 pays: the sale sells out, and w3 hears it.
    let soldOut = false
    await buy(w2, afterLapse.get('w2')!)
    soldOut = true
    const end = await watchUntil(
      saleId,
      [w3],
      (seen) => seen.get('w3')!.state === 'sold_out',
      15_000,
      () => soldOut,
    )
    expect(end.get('w3')!.unitsLeft).toBe(0)

    const report = await saleInvariant(cfg, saleId)
    expect(report.postgres).toMatchObject({ confirmed: 2, failed: 1, tokensWithTwoConfirmedOrders: 0 })
    expect(report.ok).toBe(true)
    expect(await roomStats(cfg, saleId)).toMatchObject({
      tokensLoaded: 2,
      sold: 2,
      available: 0,
      granted: 0,
      redeemed: 0,
      recycled: 2,
    })
    // The issuance log: each token went to one holder per generation, in line order within G.
    const issuance = (await roomReport(cfg, saleId)).issuance.sort((a, b) => a.admittedAt - b.admittedAt)
    expect(issuance.map((e) => e.gen).sort()).toEqual([1, 1, 2, 2])
    const inG = issuance.filter((e) => e.shard === G)
    expect(inG).toHaveLength(2)
    expect(inG[0]!.ord).toBeLessThan(inG[1]!.ord)
  }, 90_000)
})
