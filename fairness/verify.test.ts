import { describe, expect, it } from 'vitest'
import {
  seedCommitment,
  shuffleKey,
  type FairnessAdmission,
  type FairnessJoin,
  type FairnessSummary,
} from '../contracts/index.ts'
import { verifyFairness, type PublicFairness } from './verify.ts'

const SEED = 'a1'.repeat(32)
const STARTS_AT = 1_800_000_000_000
const pid = (shard: number, n: number) => `p${shard}${String(n).padStart(14, '0')}`

/**
 * An honest sale of 2 shards, 6 tokens: 5 pre-queue places per shard, drawn by the seed. Shard 0 admits its
 * draw's first 3, a failed payment sends token t0 (gen 2) to the 4th; the 5th still waits. Shard 1 admits its
 * whole draw as tokens come back (t4's gen 3 was lent to shard 0 and given back unused), then first come: two
 * shoppers, one of them twice (their grant lapsed, they joined again at the back, token t3 came back to them).
 */
async function honestSale(): Promise<PublicFairness> {
  const joins: FairnessJoin[] = []
  const admissions: FairnessAdmission[] = []
  let at = STARTS_AT + 1_000
  const admit = (shard: number, publicId: string, token: string, gen: number, pre: boolean, joinedAt: number) =>
    admissions.push({ shard, publicId, token, gen, pre, joinedAt, admittedAt: (at += 250) })
  const drawn: string[][] = []
  for (const shard of [0, 1]) {
    const mine = [1, 2, 3, 4, 5].map((n) => ({
      shard,
      publicId: pid(shard, n),
      seq: n,
      joinedAt: STARTS_AT - 60_000 + n,
    }))
    joins.push(...mine)
    const keyed = await Promise.all(mine.map(async (j) => ({ j, k: await shuffleKey(SEED, j.publicId) })))
    drawn.push(keyed.sort((a, b) => a.k - b.k).map((x) => x.j.publicId))
  }
  const joinedAtOf = (id: string) => joins.find((j) => j.publicId === id)!.joinedAt
  const [zero, one] = drawn as [string[], string[]]
  admit(0, zero[0]!, 't0', 1, true, joinedAtOf(zero[0]!))
  admit(0, zero[1]!, 't1', 1, true, joinedAtOf(zero[1]!))
  admit(0, zero[2]!, 't2', 1, true, joinedAtOf(zero[2]!))
  admit(0, zero[3]!, 't0', 2, true, joinedAtOf(zero[3]!))
  admit(1, one[0]!, 't3', 1, true, joinedAtOf(one[0]!))
  admit(1, one[1]!, 't4', 1, true, joinedAtOf(one[1]!))
  // Shard 1's other three pre-queue places: admitted as tokens come back, in draw order.
  admit(1, one[2]!, 't4', 2, true, joinedAtOf(one[2]!))
  admit(1, one[3]!, 't5', 1, true, joinedAtOf(one[3]!))
  admit(1, one[4]!, 't4', 4, true, joinedAtOf(one[4]!))
  const late = [pid(1, 20), pid(1, 21)]
  admit(1, late[0]!, 't3', 2, false, STARTS_AT + 100)
  admit(1, late[1]!, 't5', 2, false, STARTS_AT + 200)
  admit(1, late[0]!, 't3', 3, false, STARTS_AT + 5_000)
  const perShard = [
    { shard: 0, tokens: 3, joined: 8, prequeueJoined: 5, admitted: 4 },
    { shard: 1, tokens: 3, joined: 8, prequeueJoined: 5, admitted: 8 },
  ]
  const summary: FairnessSummary = {
    saleId: 'drop-1',
    at: at + 1,
    startsAt: new Date(STARTS_AT).toISOString(),
    started: true,
    prequeueOrder: 'shuffle',
    shards: 2,
    commitment: await seedCommitment(SEED),
    seed: SEED,
    tokens: 6,
    joined: 16,
    prequeueJoined: 10,
    admitted: 12,
    perShard,
    joins: '/api/sales/drop-1/fairness/joins',
    admissions: '/api/sales/drop-1/fairness/admissions',
  }
  return { summary, joins, admissions, stock: 6, totals: { joins: [5, 5], admissions: [4, 8] } }
}

const failed = async (data: PublicFairness) => (await verifyFairness(data)).checks.filter((c) => c.ok === false)

describe('when the public proof is honest', () => {
  it('should hold every check and explain what looks irregular', async () => {
    const verdict = await verifyFairness(await honestSale())

    expect(verdict.checks.map((c) => [c.name, c.ok])).toEqual([
      ['commitment', true],
      ['joins', true],
      ['shuffle', true],
      ['fifo', true],
      ['tokens', true],
      ['counts', true],
    ])
    expect(verdict).toMatchObject({ ok: true, kendallTau: 1, admitted: 12 })
    // t0 gen 2, t3 gen 2 and 3, t4 gen 2 and 4, t5 gen 2; t4 gen 3 was lent and given back unused.
    expect(verdict.explained).toMatchObject({ recycled: 6, readmitted: 1, unusedGenerations: 1 })
  })

  it('should take shoppers admitted in one pass (one millisecond) in log order, not as ties', async () => {
    const sale = await honestSale()
    // Shard 1's two first-come shoppers admitted by the same pass: same time, the log keeps their order.
    const firstCome = sale.admissions.filter((a) => a.shard === 1 && !a.pre)
    firstCome[1]!.admittedAt = firstCome[0]!.admittedAt
    const verdict = await verifyFairness(sale)
    expect(verdict.checks.find((c) => c.name === 'fifo')).toMatchObject({ ok: true })
    expect(verdict.kendallTau).toBe(1)
  })

  it('should have nothing to check but the lists before the start', async () => {
    const sale = await honestSale()
    const perShard = sale.summary.perShard.map((p) => ({ ...p, admitted: 0 }))
    const summary = { ...sale.summary, started: false, seed: null, admitted: 0, perShard }
    const before = { ...sale, summary, admissions: [], totals: { ...sale.totals, admissions: [0, 0] } }

    const verdict = await verifyFairness(before)

    expect(verdict.ok).toBe(true)
    expect(Object.fromEntries(verdict.checks.map((c) => [c.name, c.ok]))).toMatchObject({
      commitment: null,
      shuffle: null,
      joins: true,
    })
  })
})

describe('when the public proof was tampered with', () => {
  it('should reject one swapped pair of pre-queue admissions', async () => {
    const sale = await honestSale()
    const [a, b] = [sale.admissions[0]!, sale.admissions[1]!]
    sale.admissions[0] = { ...b, admittedAt: a.admittedAt }
    sale.admissions[1] = { ...a, admittedAt: b.admittedAt }

    expect((await failed(sale)).map((c) => c.name)).toEqual(['shuffle'])
  })

  it('should reject a shopper inserted at the front, whether or not the join list names them', async () => {
    const sale = await honestSale()
    const front = sale.admissions[0]!
    const inserted = { ...front, publicId: pid(0, 99), token: 't9', admittedAt: front.admittedAt - 1 }
    const inLog = { ...sale, admissions: [inserted, ...sale.admissions] }
    const inBoth = {
      ...inLog,
      joins: [...sale.joins, { shard: 0, publicId: pid(0, 99), seq: 6, joinedAt: STARTS_AT - 1 }],
    }

    expect((await failed(inLog)).map((c) => c.name)).toContain('shuffle')
    expect((await failed(inLog)).find((c) => c.name === 'shuffle')!.detail).toContain('not in the published')
    // Listed too: the join list is longer than its last page says, and the draw would put them elsewhere
    // unless their key happened to be the smallest.
    expect((await failed(inBoth)).map((c) => c.name)).toContain('joins')
  })

  it('should reject a wrong seed, and a seed and commitment both replaced after one was saved', async () => {
    const sale = await honestSale()
    const other = 'b2'.repeat(32)
    const wrongSeed = { ...sale, summary: { ...sale.summary, seed: other } }
    const bothReplaced = { ...sale, summary: { ...sale.summary, seed: other, commitment: await seedCommitment(other) } }

    expect((await failed(wrongSeed)).map((c) => c.name)).toContain('commitment')
    const saved = { commitment: sale.summary.commitment! }
    const verdict = await verifyFairness(bothReplaced, saved)
    expect(verdict.ok).toBe(false)
    expect(verdict.checks.filter((c) => c.ok === false).map((c) => c.name)).toContain('commitment')
  })

  it('should reject first-come shoppers admitted out of arrival order', async () => {
    const sale = await honestSale()
    const fifo = sale.admissions.filter((a) => !a.pre)
    ;[fifo[0]!.joinedAt, fifo[1]!.joinedAt] = [fifo[1]!.joinedAt, fifo[0]!.joinedAt]
    fifo[1]!.joinedAt = fifo[2]!.joinedAt + 1

    const verdict = await verifyFairness(sale)

    expect(verdict.checks.find((c) => c.name === 'fifo')).toMatchObject({ ok: false })
    expect(verdict.kendallTau).toBeLessThan(0.99)
  })

  it('should reject a token generation handed out twice and more tokens than were loaded', async () => {
    const twice = await honestSale()
    twice.admissions[3] = { ...twice.admissions[3]!, gen: 1 }
    const extra = await honestSale()
    extra.admissions.at(-1)!.token = 't6'

    expect((await failed(twice)).map((c) => c.name)).toContain('tokens')
    expect((await failed(extra)).find((c) => c.name === 'tokens')!.detail).toContain('only 6 were loaded')
  })

  it("should reject a first-come shopper admitted before the shard's whole pre-queue", async () => {
    const sale = await honestSale()
    const firstCome = sale.admissions.findIndex((a) => !a.pre)
    const jumped = sale.admissions[firstCome]!
    sale.admissions.splice(firstCome, 1)
    sale.admissions.splice(4, 0, { ...jumped, admittedAt: sale.admissions[4]!.admittedAt - 1 })

    expect((await failed(sale)).find((c) => c.name === 'shuffle')!.detail).toContain('joined after the start')
  })
})
