/**
 * `npm run smoke [-- --json]`: a small sale through a running developer stack (`npm run core` + `npm run
 * edge:dev`, at CORE_URL / EDGE_URL, defaults :3000 / :8787). Two units, three shoppers in line: the first
 * pays with a card that is declined, so its unit must go to the third; the books must end with exactly two
 * confirmed orders, one failed, nothing held and every invariant holding. Exit 1 otherwise.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { randomId, type Order, type RedeemResponse, type RoomStatus } from '../contracts/index.ts'
import { createSale, issuerConfig, roomStats, saleInvariant } from '../token-issuer/issuer.ts'
import { simulatedAddress } from '../bench/shoppers.ts'

const { values: args } = parseArgs({ options: { json: { type: 'boolean', default: false } } })
const say = (line: string) => {
  if (!args.json) console.log(line)
}
const cfg = issuerConfig()
const edge = cfg.EDGE_URL.replace(/\/$/, '')
const saleId = `smoke-${Date.now().toString(36)}`
const DEADLINE_MS = 90_000
const started = Date.now()

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() - started > DEADLINE_MS) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`)
    await sleep(250)
  }
}

interface Shopper {
  name: string
  session: string
  address: string
  ticket?: string
}

async function join(name: string): Promise<Shopper> {
  const session = randomId()
  const address = simulatedAddress()
  const res = await fetch(`${edge}/api/sales/${saleId}/join`, {
    method: 'POST',
    headers: { 'x-floodgate-session': session, 'cf-connecting-ip': address },
  })
  if (!res.ok) throw new Error(`${name} could not join: ${res.status} ${await res.text()}`)
  const status = (await res.json()) as RoomStatus
  return { name, session, address, ...(status.ticket ? { ticket: status.ticket } : {}) }
}

async function status(s: Shopper): Promise<RoomStatus> {
  const headers: Record<string, string> = {
    'x-floodgate-session': s.session,
    'cf-connecting-ip': s.address,
    ...(s.ticket ? { 'x-floodgate-ticket': s.ticket } : {}),
  }
  const res = await fetch(`${edge}/api/sales/${saleId}/status`, { headers })
  if (!res.ok) throw new Error(`${s.name}'s status: ${res.status} ${await res.text()}`)
  return (await res.json()) as RoomStatus
}

async function pay(s: Shopper, admitted: RoomStatus, paymentMethod: string): Promise<Order['status']> {
  const res = await fetch(`${edge}/api/sales/${saleId}/redeem`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-floodgate-session': s.session, 'idempotency-key': randomUUID() },
    body: JSON.stringify({ token: admitted.token, grant: admitted.grant, paymentMethod }),
  })
  if (res.status !== 202) throw new Error(`${s.name}'s redeem: ${res.status} ${await res.text()}`)
  const { orderId } = (await res.json()) as RedeemResponse
  const order = await until(
    `${s.name}'s order`,
    async () => {
      const answer = await fetch(`${edge}/api/orders/${orderId}?waitMs=3000`, {
        headers: { 'x-floodgate-session': s.session },
      })
      return answer.ok ? ((await answer.json()) as Order) : null
    },
    (o) => o !== null && o.status !== 'pending',
  )
  return order!.status
}

let ok = false
const steps: string[] = []
try {
  await createSale(cfg, {
    saleId,
    sku: 'SMOKE-1',
    name: 'Smoke test drop',
    priceCents: 1000,
    stock: 2,
    tokenTtlSeconds: 60,
    holdTtlSeconds: 30,
    startsAt: new Date().toISOString(),
    admitPerMinute: 60,
  })
  steps.push(`created sale ${saleId} (2 units) through core and the edge`)
  const first = await join('first')
  const second = await join('second')
  const third = await join('third')
  steps.push('three shoppers joined the line')

  const a = await until(
    'the first shopper to be admitted',
    () => status(first),
    (s) => s.state === 'admitted',
  )
  const declined = await pay(first, a, 'pm_card_chargeDeclined')
  if (declined !== 'failed') throw new Error(`the declined card's order is ${declined}, not failed`)
  steps.push('first shopper admitted, card declined, order failed')
  const b = await until(
    'the second shopper to be admitted',
    () => status(second),
    (s) => s.state === 'admitted',
  )
  if ((await pay(second, b, 'pm_card_visa')) !== 'confirmed')
    throw new Error("the second shopper's order did not confirm")
  steps.push('second shopper admitted and confirmed')
  const c = await until(
    'the declined unit to reach the third shopper',
    () => status(third),
    (s) => s.state === 'admitted',
  )
  if ((await pay(third, c, 'pm_card_visa')) !== 'confirmed')
    throw new Error("the third shopper's order did not confirm")
  steps.push('the declined unit went to the third shopper, who confirmed')

  const books = await until(
    'the books to settle',
    () => saleInvariant(cfg, saleId),
    (r) => r.redis.held === 0 && r.postgres.pending === 0,
  )
  const room = await roomStats(cfg, saleId)
  ok =
    books.ok &&
    books.postgres.confirmed === 2 &&
    books.postgres.failed === 1 &&
    books.postgres.tokensWithTwoConfirmedOrders === 0 &&
    room.sold === 2 &&
    room.recycled === 1
  steps.push(
    `books: ${books.postgres.confirmed} confirmed, ${books.postgres.failed} failed, invariant ${books.ok ? 'holds' : 'BROKEN'}, ` +
      `room sold ${room.sold}, recycled ${room.recycled}`,
  )
} catch (error) {
  steps.push(`FAILED: ${(error as Error).message}`)
}
for (const step of steps) say(`  ${step}`)
say(ok ? `smoke: PASS (${Math.round((Date.now() - started) / 100) / 10} s)` : 'smoke: FAIL')
if (args.json) console.log(JSON.stringify({ ok, saleId, steps, seconds: (Date.now() - started) / 1000 }))
process.exit(ok ? 0 : 1)
