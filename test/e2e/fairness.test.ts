/**
 * The public fairness proof end to end: a sale on 2 shards through the real edge (workerd via Miniflare) and the
 * real core, with a pre-queue, first-come joins after the start and declined payments whose units go to the
 * next shoppers (recycled tokens). Then `npm run verify-fairness` (fairness/cli.ts, a separate process that
 * only reads the public endpoints) must accept it, and must reject the same proof served through a proxy that
 * swaps one pair of admissions, inserts a shopper, or reveals another seed.
 */
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FairnessSummary, type FairnessAdmission, type RoomStatus } from '../../contracts/index.ts'
import { SimulatedGateway } from '../../core/payment/simulated-gateway.ts'
import type { FairnessVerdict } from '../../fairness/verify.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'
import { createSale } from '../../token-issuer/issuer.ts'
import { joinInShard, orderOutcome, pollRoom } from '../support/edge-shoppers.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SHARDS = 2
const STOCK = 24
/** Half of each in each shard (sessions are picked by the shard rule), so both shards have both kinds. */
const PREQUEUE_SHOPPERS = 12
const LATE_SHOPPERS = 16
/** Declined payments: their units go to the next shoppers, and then everyone has been admitted once. */
const DECLINED = 4

let stack: LocalStack
let saleId: string
let proxy: Server
let proxyUrl: string
/** What the proxy does to the proof on its way: nothing, or one kind of tampering. */
let tamper: 'none' | 'swap' | 'insert' | 'seed' = 'none'

type Shopper = { session: string; ticket: string; publicId: string }

async function join(shard: number): Promise<Shopper> {
  const { session, status } = await joinInShard(stack.edgeUrl, saleId, shard, SHARDS)
  return { session, ticket: status.ticket!, publicId: status.publicId! }
}

const poll = (s: Shopper) => pollRoom(stack.edgeUrl, saleId, s)

async function summary() {
  return FairnessSummary.parse(await (await fetch(`${stack.edgeUrl}/api/sales/${saleId}/fairness`)).json())
}

/** The summary once it shows `done` (it is cached at the edge for a moment, so it may lag what just happened). */
async function summaryWhen(done: (s: FairnessSummary) => boolean, timeoutMs = 30_000): Promise<FairnessSummary> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const s = await summary()
    if (done(s)) return s
    if (Date.now() > deadline) throw new Error(`timed out; last summary: ${JSON.stringify(s)}`)
    await sleep(250)
  }
}

/** Polls everyone until `admitted` admissions are in the public log (the log is the proof being tested). */
async function admittedAtLeast(shoppers: Shopper[], admitted: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const seen = await Promise.all(shoppers.map(poll))
    if ((await summary()).admitted >= admitted) return seen
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${admitted} admissions`)
    await sleep(250)
  }
}

const outcomeOf = (s: Shopper, orderId: string) => orderOutcome(stack.edgeUrl, s.session, orderId)

function verify(edgeUrl: string, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const args = ['tsx', 'fairness/cli.ts', edgeUrl, saleId, ...extra]
    execFile('npx', args, { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr })
    })
  })
}

/** The proof as the edge serves it, tampered on the way as `tamper` says. */
function tampered(path: string, body: any): any {
  if (tamper === 'seed' && /\/fairness$/.test(path)) return { ...body, seed: 'f0'.repeat(32) }
  if (!/\/fairness\/admissions/.test(path) || body.entries.length < 2) return body
  const entries: FairnessAdmission[] = [...body.entries]
  if (tamper === 'swap') {
    const i = entries.findIndex((e, k) => e.pre && entries[k + 1]?.pre && entries[k + 1]!.shard === e.shard)
    if (i >= 0) {
      const [a, b] = [entries[i]!, entries[i + 1]!]
      entries[i] = { ...b, admittedAt: a.admittedAt }
      entries[i + 1] = { ...a, admittedAt: b.admittedAt }
    }
  }
  if (tamper === 'insert') {
    const first = entries[0]!
    entries.unshift({ ...first, publicId: 'InsertedShopper0', admittedAt: first.admittedAt })
  }
  return { ...body, entries }
}

beforeAll(async () => {
  stack = await startLocalStack({ gateway: new SimulatedGateway({ latencyMs: 5 }) })
  proxy = createServer(async (req, res) => {
    const upstream = await fetch(`${stack.edgeUrl}${req.url}`)
    const text = await upstream.text()
    const path = req.url!.split('?')[0]!
    const json = upstream.ok && tamper !== 'none' ? JSON.stringify(tampered(path, JSON.parse(text))) : text
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(json)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
}, 60_000)
afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve))
  await stack?.stop()
})

describe('when a sharded sale with a pre-queue has run', () => {
  const title = 'should pass verify-fairness from the public data alone, and fail it when the proof is tampered with'
  it(title, async () => {
    saleId = `e2e-fair-${randomUUID().slice(0, 8)}`
    // The pre-queue lasts until every early shopper has joined, however slow the machine is today.
    const startsAt = Date.now() + 12_000
    await createSale(stack.issuerConfig(), {
      saleId,
      sku: 'E2E-FAIR',
      name: 'Fair drop',
      priceCents: 1_000,
      stock: STOCK,
      startsAt: new Date(startsAt).toISOString(),
      admitPerMinute: 60_000,
      tokenTtlSeconds: 60,
      holdTtlSeconds: 30,
      shards: SHARDS,
      // Shoppers are placed in shards by their session here (the shard rule under test): no per-network cap,
      // which would place one network's shoppers (this test's one address) together.
      maxPlacesPerIp: 0,
    })
    const committed = (await summary()).commitment!
    const early: Shopper[] = []
    for (let i = 0; i < PREQUEUE_SHOPPERS; i++) early.push(await join(i % SHARDS))
    const before = await summaryWhen((s) => s.prequeueJoined === PREQUEUE_SHOPPERS)
    expect(Date.now()).toBeLessThan(startsAt)
    expect(before).toMatchObject({ started: false, seed: null, commitment: committed })
    await sleep(Math.max(0, startsAt - Date.now()) + 200)
    const late: Shopper[] = []
    for (let i = 0; i < LATE_SHOPPERS; i++) late.push(await join(i % SHARDS))
    const everyone = [...early, ...late]

    // Every unit goes out; some payments are declined and their units go to the next shoppers in line.
    expect(everyone.length).toBe(STOCK + DECLINED)
    const seen = await admittedAtLeast(everyone, STOCK, 30_000)
    const holders = everyone.filter((_, i) => seen[i]!.state === 'admitted').slice(0, DECLINED)
    for (const s of holders) {
      const status = seen[everyone.indexOf(s)]!
      const res = await fetch(`${stack.edgeUrl}/api/sales/${saleId}/redeem`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-floodgate-session': s.session,
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify({ token: status.token, grant: status.grant, paymentMethod: 'pm_card_chargeDeclined' }),
      })
      expect(res.status).toBe(202)
      expect(await outcomeOf(s, ((await res.json()) as { orderId: string }).orderId)).toBe('failed')
    }
    await admittedAtLeast(everyone, STOCK + DECLINED, 30_000)

    const honest = await verify(stack.edgeUrl, '--json', '--commitment', committed)
    const verdict = JSON.parse(honest.stdout) as FairnessVerdict
    expect(
      verdict.checks.filter((c) => c.ok !== true),
      honest.stderr,
    ).toEqual([])
    expect(honest.code, honest.stderr).toBe(0)
    expect(verdict).toMatchObject({ ok: true, shards: SHARDS, prequeueJoined: PREQUEUE_SHOPPERS, tokens: STOCK })
    expect(verdict.perShard.map((p) => p.kendallTau)).toEqual([1, 1])
    expect(verdict.stock).toBe(STOCK)
    expect(verdict.admitted).toBeGreaterThanOrEqual(STOCK + DECLINED)
    expect(verdict.explained.recycled).toBeGreaterThanOrEqual(DECLINED)
    const human = await verify(proxyUrl)
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain('✓ shuffle: every shard admitted its pre-queue')

    for (const [kind, check] of [
      ['swap', 'shuffle'],
      ['insert', 'shuffle'],
      ['seed', 'commitment'],
    ] as const) {
      tamper = kind
      const run = await verify(proxyUrl, '--json')
      tamper = 'none'
      expect({ kind, code: run.code }).toEqual({ kind, code: 2 })
      const failed = (JSON.parse(run.stdout) as FairnessVerdict).checks.filter((c) => c.ok === false).map((c) => c.name)
      expect({ kind, failed }).toEqual({ kind, failed: expect.arrayContaining([check]) })
    }
  }, 180_000)
})
