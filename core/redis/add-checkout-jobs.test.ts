import type { Redis } from 'ioredis'
import { Worker } from 'bullmq'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { CheckoutJob } from '../../contracts/index.ts'
import { dropRedisPrefix, testRedis, uniqueName } from '../../test/support/services.ts'
import { Jobs } from '../jobs/jobs.ts'
import { createLogger } from '../logger.ts'
import { CheckoutOutbox, checkoutJobOptsJson } from '../redeem/checkout-outbox.ts'
import { Scripts, type RedeemInput } from './scripts.ts'

let redis: Redis
let prefix: string
let scripts: Scripts
let jobs: Jobs
let outbox: CheckoutOutbox
const saleId = 'drop-1'
const NOW = Date.now()
const ATTEMPTS = 12

function job(n: number, over: Partial<CheckoutJob> = {}): CheckoutJob {
  return {
    orderId: `ord_${n.toString(16).padStart(32, '0')}`,
    saleId,
    tid: `tok_${String(n).padStart(16, '0')}`,
    gen: 1,
    shopper: `shopper_${String(n).padStart(14, '0')}`,
    paymentMethod: 'pm_card_visa',
    amountCents: 4999,
    currency: 'EUR',
    idempotencyKey: `key-${n}-aaaaaaaa`,
    redeemedAt: NOW,
    ...over,
  }
}
const redeemInput = (j: CheckoutJob, withJob = true): RedeemInput => ({
  tid: j.tid,
  gen: j.gen,
  shopper: j.shopper,
  idempotencyKey: j.idempotencyKey,
  orderId: j.orderId,
  nowMs: j.redeemedAt,
  grantExpiresAtMs: j.redeemedAt + 60_000,
  ...(withJob ? { checkoutJob: JSON.stringify(j) } : {}),
})

beforeAll(() => {
  redis = testRedis()
})
afterAll(async () => {
  await dropRedisPrefix(redis, prefix)
  redis.disconnect()
})
beforeEach(async () => {
  if (prefix) await dropRedisPrefix(redis, prefix)
  prefix = uniqueName('fgtest')
  scripts = new Scripts(redis, prefix)
  jobs = new Jobs(redis, `${prefix}:bull`, ATTEMPTS)
  outbox = new CheckoutOutbox(scripts, jobs.checkout, checkoutJobOptsJson(ATTEMPTS), createLogger('silent'))
  await scripts.seedSale(saleId, { stock: 10, perShopperLimit: 1, holdTtlSeconds: 60 })
})

describe('addCheckoutJobs (the outbox forwarder)', () => {
  it('should store a job exactly as Jobs.enqueueCheckout (Queue.add) does', async () => {
    const viaBull = job(1)
    const viaScript = job(2)
    await jobs.enqueueCheckout(viaBull)
    await outbox.forward(saleId, viaScript.orderId, JSON.stringify(viaScript))
    const a = await redis.hgetall(jobs.checkout.toKey(viaBull.orderId))
    const b = await redis.hgetall(jobs.checkout.toKey(viaScript.orderId))
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort())
    expect(JSON.parse(b.opts!)).toEqual({ ...JSON.parse(a.opts!), jobId: viaScript.orderId })
    expect(JSON.parse(b.data!)).toEqual(viaScript)
    expect({ ...b, opts: '', data: '', timestamp: '' }).toEqual({ ...a, opts: '', data: '', timestamp: '' })
    expect(await redis.lrange(jobs.checkout.keys.wait!, 0, -1)).toEqual([viaScript.orderId, viaBull.orderId])
    expect(await redis.get(jobs.checkout.keys.id!)).toBe('2')
    const events = (await redis.xrange(jobs.checkout.keys.events!, '-', '+')).map(([, fields]) => fields.join(' '))
    expect(events.slice(2)).toEqual(events.slice(0, 2).map((e) => e.replace(viaBull.orderId, viaScript.orderId)))
    expect(await redis.zrange(jobs.checkout.keys.marker!, '0', '-1')).toEqual(['0'])
    const fetched = await jobs.checkout.getJob(viaScript.orderId)
    expect(fetched?.data).toEqual(viaScript)
    expect(fetched?.opts.attempts).toBe(ATTEMPTS)
    expect(await fetched?.getState()).toBe('waiting')
  })

  it('should leave an existing job alone and batch the forwards of one tick into one call', async () => {
    const first = job(1)
    await outbox.forward(saleId, first.orderId, JSON.stringify(first))
    const calls: number[] = []
    const original = scripts.addCheckoutJobs.bind(scripts)
    scripts.addCheckoutJobs = async (...args) => {
      calls.push(args[4].length)
      return original(...args)
    }
    await Promise.all(
      [first, job(2), job(3), job(2)].map((j) =>
        outbox.forward(saleId, j.orderId, JSON.stringify({ ...j, paymentMethod: 'changed' })),
      ),
    )
    expect(calls).toEqual([4])
    expect(await redis.llen(jobs.checkout.keys.wait!)).toBe(3)
    expect((await jobs.checkout.getJob(first.orderId))?.data.paymentMethod).toBe('pm_card_visa')
  })

  it('should be run by a BullMQ worker', async () => {
    const j = job(7)
    await outbox.forward(saleId, j.orderId, JSON.stringify(j))
    const connection = testRedis()
    const seen = new Promise<{ data: CheckoutJob; id?: string; attempts?: number }>((resolve) => {
      const worker = new Worker<CheckoutJob>(
        'checkout',
        async (w) => resolve({ data: w.data, id: w.id, attempts: w.opts.attempts }),
        { connection, prefix: `${prefix}:bull` },
      )
      afterAll(async () => {
        await worker.close()
        connection.disconnect()
      })
    })
    expect(await seen).toEqual({ data: j, id: j.orderId, attempts: ATTEMPTS })
  })
})

describe('the checkout outbox', () => {
  it('should get the job with a new hold only, in the same step, and lose it once forwarded', async () => {
    const j = job(1)
    expect((await scripts.redeemToken(saleId, redeemInput(j))).kind).toBe('held')
    expect((await scripts.checkoutOutbox(saleId)).entries).toEqual([[j.orderId, JSON.stringify(j)]])
    await outbox.forward(saleId, j.orderId, JSON.stringify(j))
    await new Promise((r) => setTimeout(r, 20))
    expect((await scripts.checkoutOutbox(saleId)).entries).toEqual([])
    // a replay writes nothing
    expect((await scripts.redeemToken(saleId, redeemInput(j))).kind).toBe('replayed')
    // nor does a refusal
    expect(
      (await scripts.redeemToken(saleId, redeemInput(job(2, { shopper: j.shopper, idempotencyKey: 'other-key-1' }))))
        .kind,
    ).toBe('refused')
    expect((await scripts.checkoutOutbox(saleId)).entries).toEqual([])
    // nor a call without a job (tests, tools)
    expect((await scripts.redeemToken(saleId, redeemInput(job(3), false))).kind).toBe('held')
    expect((await scripts.checkoutOutbox(saleId)).entries).toEqual([])
  })

  it('should forward what a dead process left behind once it is stale, and not before', async () => {
    const stale = job(1, { redeemedAt: NOW - 60_000 })
    const fresh = job(2)
    await scripts.redeemToken(saleId, redeemInput(stale))
    await scripts.redeemToken(saleId, redeemInput(fresh))
    // the process "died" here: no forward
    expect(await outbox.recover([saleId, 'no-such-sale'], NOW)).toBe(1)
    await new Promise((r) => setTimeout(r, 20))
    expect((await jobs.checkout.getJob(stale.orderId))?.data).toEqual(stale)
    expect(await jobs.checkout.getJob(fresh.orderId)).toBeUndefined()
    expect((await scripts.checkoutOutbox(saleId)).entries.map(([id]) => id)).toEqual([fresh.orderId])
    expect(await outbox.recover([saleId], NOW + 10_000)).toBe(1)
    expect((await jobs.checkout.getJob(fresh.orderId))?.data).toEqual(fresh)
  })
})
