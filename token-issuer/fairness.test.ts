import { describe, expect, it } from 'vitest'
import { seedCommitment, shuffleKey, type RoomReport } from '../contracts/index.ts'
import { fairness } from './fairness.ts'

const id = (n: number) => `shopper${String(n).padStart(15, '0')}`
const pid = (n: number) => `public${String(n).padStart(10, '0')}`

describe('fairness', () => {
  it('should accept an honest report and flag a tampered seed and a broken shuffle', async () => {
    const seed = 'c'.repeat(64)
    const startsAt = 1_000_000
    const pre = [1, 2, 3, 4, 5]
    const keyed = await Promise.all(pre.map(async (n) => ({ n, k: await shuffleKey(seed, pid(n)) })))
    const order = keyed.sort((a, b) => a.k - b.k)
    const entry = (n: number, i: number, isPre: boolean) => ({
      shard: 0,
      shopper: id(n),
      publicId: pid(n),
      tid: `tid_${String(i).padStart(12, '0')}`,
      gen: 1,
      pre: isPre,
      ord: i,
      joinedAt: isPre ? startsAt - 100 + n : startsAt + n,
      admittedAt: startsAt + 1_000 + i,
    })
    const report: RoomReport = {
      saleId: 'fair',
      shards: 1,
      startsAt: new Date(startsAt).toISOString(),
      commitment: await seedCommitment(seed),
      seed,
      joined: 8,
      admitted: 8,
      prequeue: [
        {
          shard: 0,
          shoppers: pre.map(id),
          joins: pre.map((n) => ({ shard: 0, publicId: pid(n), seq: n, joinedAt: startsAt - 100 + n })),
        },
      ],
      issuance: [...order.map((o, i) => entry(o.n, i, true)), ...[6, 7, 8].map((n, i) => entry(n, 10 + i, false))],
    }

    expect(await fairness(report)).toMatchObject({
      ok: true,
      commitmentOk: true,
      shuffleOk: true,
      tokensOk: true,
      kendallTau: 1,
      prequeueJoined: 5,
    })
    expect((await fairness({ ...report, seed: 'd'.repeat(64) })).commitmentOk).toBe(false)
    const swapped = [...report.issuance]
    ;[swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!]
    expect(await fairness({ ...report, issuance: swapped })).toMatchObject({ ok: false, shuffleOk: false })
  })
})
