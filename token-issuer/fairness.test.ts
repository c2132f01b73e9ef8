import { describe, expect, it } from 'vitest'
import { seedCommitment, shuffleKey, type RoomReport } from '../contracts/index.ts'
import { fairness, kendallTauB } from './fairness.ts'

const id = (n: number) => `shopper${String(n).padStart(15, '0')}`

describe('kendallTauB', () => {
  it('should be 1 for the same order, -1 for the reverse, and count ties neutrally', () => {
    expect(kendallTauB([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1)
    expect(kendallTauB([1, 2, 3, 4], [40, 30, 20, 10])).toBe(-1)
    expect(kendallTauB([1, 2, 3, 4], [10, 10, 30, 40])).toBeGreaterThan(0.9)
    expect(kendallTauB([1], [1])).toBeNull()
  })
})

describe('fairness', () => {
  it('should accept an honest report and flag a tampered seed and a broken shuffle', async () => {
    const seed = 'c'.repeat(64)
    const pre = [1, 2, 3, 4, 5].map(id)
    const order = (await Promise.all(pre.map(async (s) => ({ s, k: await shuffleKey(seed, s) })))).sort((a, b) => a.k - b.k)
    const entry = (s: string, i: number, isPre: boolean) => ({
      shard: 0, shopper: s, tid: `tid_${String(i).padStart(12, '0')}`, gen: 1, pre: isPre, ord: i, joinedAt: 1_000 + i, admittedAt: 2_000 + i,
    })
    const report: RoomReport = {
      saleId: 'fair', shards: 1, startsAt: new Date(0).toISOString(), commitment: await seedCommitment(seed), seed,
      joined: 8, admitted: 8, prequeue: [{ shard: 0, shoppers: pre }],
      issuance: [...order.map((o, i) => entry(o.s, i, true)), ...[6, 7, 8].map((n, i) => entry(id(n), 10 + i, false))],
    }
    expect(await fairness(report)).toMatchObject({ commitmentOk: true, shuffleOk: true, kendallTau: 1, prequeueJoined: 5 })
    expect((await fairness({ ...report, seed: 'd'.repeat(64) })).commitmentOk).toBe(false)
    const swapped = [...report.issuance]
    ;[swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!]
    expect((await fairness({ ...report, issuance: swapped })).shuffleOk).toBe(false)
  })
})
