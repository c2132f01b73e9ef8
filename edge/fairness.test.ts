import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  FairnessJoinsPage,
  FairnessPlace,
  FairnessSummary,
  seedCommitment,
  shuffleKey,
  type RoomStatus,
} from '../contracts/index.ts'
import { fetchPublicFairness } from '../fairness/fetch.ts'
import { verifyFairness } from '../fairness/verify.ts'
import {
  EDGE_URL,
  makeShoppers,
  mockCore,
  openRoom,
  roomConfig,
  testClockPerTest,
  uniqueSaleId,
} from '../waiting-room/fixtures.ts'

const request = (path: string, init: RequestInit = {}) => exports.default.fetch(new Request(`${EDGE_URL}${path}`, init))

async function get(path: string) {
  const res = await request(path)
  return { res, status: res.status, json: (await res.json()) as any }
}

const clock = testClockPerTest()

/** A sale of `shards` shards whose pre-queue is open for a minute, with `tokens` tokens and `shoppers` joined. */
async function prequeueSale(shards: number, tokens: number, shoppers: number) {
  const saleId = uniqueSaleId('fair')
  const startsAt = clock.now() + 60_000
  const config = { ...roomConfig(saleId, startsAt, { shards, admitPerMinute: 60_000 }), prequeueOrder: 'shuffle' }
  await openRoom(saleId, config, tokens)
  const joined: Array<{ session: string; status: RoomStatus }> = []
  for (const { session } of await makeShoppers(shoppers)) {
    const headers = { 'x-floodgate-session': session }
    const res = await request(`/api/sales/${saleId}/join`, { method: 'POST', headers })
    expect(res.status).toBe(200)
    joined.push({ session, status: (await res.json()) as RoomStatus })
  }
  return { saleId, startsAt, joined }
}

/** Every entry of a list, following `next` from page to page. */
async function allEntries(path: string, limit: number) {
  const entries: unknown[] = []
  const cacheControls: string[] = []
  let cursor: string | null = null
  for (;;) {
    const page = await get(`${path}?limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`)
    expect(page.status).toBe(200)
    cacheControls.push(page.res.headers.get('cache-control')!)
    entries.push(...page.json.entries)
    if (page.json.next === null) return { entries, cacheControls }
    cursor = page.json.next
  }
}

describe("when anyone reads a sale's fairness proof during the pre-queue", () => {
  it('should publish the commitment and the join list by public id, without credentials, cacheably', async () => {
    const { saleId, joined } = await prequeueSale(2, 4, 7)

    const summary = await get(`/api/sales/${saleId}/fairness`)
    const again = await get(`/api/sales/${saleId}/fairness`)

    expect(summary.status).toBe(200)
    expect(summary.res.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
    expect(FairnessSummary.parse(summary.json)).toMatchObject({
      saleId,
      started: false,
      shards: 2,
      seed: null,
      commitment: expect.stringMatching(/^[0-9a-f]{64}$/),
      tokens: 4,
      prequeueJoined: 7,
      admitted: 0,
    })
    expect(again.res.headers.get('x-floodgate-cache')).toBe('hit')
    // Every shopper learned their public id on joining; the list is exactly those, and says nothing else of them.
    const mine = joined.map((j) => j.status.publicId)
    expect(mine.every((id) => /^[A-Za-z0-9_-]{16}$/.test(id!))).toBe(true)
    // A poll answered at the edge from the ticket tells the same id.
    const headers = { 'x-floodgate-session': joined[1]!.session, 'x-floodgate-ticket': joined[1]!.status.ticket! }
    const polled = await request(`/api/sales/${saleId}/status`, { headers })
    expect(polled.headers.get('x-floodgate-answered-by')).toBe('edge')
    expect(((await polled.json()) as RoomStatus).publicId).toBe(mine[1])
    const { entries, cacheControls } = await allEntries(`/api/sales/${saleId}/fairness/joins`, 2)
    expect(entries.map((e: any) => e.publicId).sort()).toEqual([...mine].sort())
    expect(JSON.stringify(entries)).not.toContain(joined[0]!.session)
    // Full pages of an append-only list never change; the last one does.
    expect(cacheControls.filter((c) => c.includes('immutable')).length).toBeGreaterThan(0)
    expect(cacheControls.at(-1)).not.toContain('immutable')
    const place = await get(`/api/sales/${saleId}/fairness/places/${mine[0]}`)
    expect(FairnessPlace.parse(place.json)).toMatchObject({ publicId: mine[0], draw: null, seed: null })
  })

  it('should refuse a bad cursor, limit or public id with a 4xx naming the field', async () => {
    const { saleId } = await prequeueSale(2, 1, 1)
    const path = `/api/sales/${saleId}/fairness`

    const cases = [
      [await get(`${path}/joins?cursor=nope`), 400, 'invalid_query', 'cursor'],
      [await get(`${path}/joins?cursor=5.0`), 400, 'invalid_query', 'cursor'],
      [await get(`${path}/admissions?limit=0`), 400, 'invalid_query', 'limit'],
      [await get(`${path}/admissions?limit=1001`), 400, 'invalid_query', 'limit'],
      [await get(`${path}/admissions?extra=1`), 400, 'invalid_query', undefined],
      [await get(`${path}/places/not-a-public-id`), 400, 'invalid_path', 'publicId'],
      [await get(`${path}/places/AAAAAAAAAAAAAAAA`), 404, 'not_found', undefined],
      [await get(`/api/sales/${uniqueSaleId('none')}/fairness`), 404, 'room_not_configured', undefined],
    ] as const

    for (const [r, status, code, field] of cases) {
      expect({ status: r.status, code: r.json.error.code, field: r.json.error.field }).toEqual({ status, code, field })
    }
  })
})

describe('when the sale has started', () => {
  it('should reveal the seed, log admissions in draw order and show a shopper their place and why', async () => {
    const { saleId, startsAt, joined } = await prequeueSale(1, 3, 6)
    clock.set(startsAt + 5_000)
    // A poll after the start: the edge refreshes the room's snapshot, which admits the first three.
    const first = joined[0]!
    await request(`/api/sales/${saleId}/status`, {
      headers: { 'x-floodgate-session': first.session, 'x-floodgate-ticket': first.status.ticket! },
    })

    const summary = FairnessSummary.parse((await get(`/api/sales/${saleId}/fairness`)).json)
    const joins = FairnessJoinsPage.parse((await get(`/api/sales/${saleId}/fairness/joins`)).json).entries
    const admissions = (await get(`/api/sales/${saleId}/fairness/admissions`)).json.entries

    expect(summary).toMatchObject({ started: true, seed: expect.stringMatching(/^[0-9a-f]{64}$/), admitted: 3 })
    expect(await seedCommitment(summary.seed!)).toBe(summary.commitment)
    const keys = await Promise.all(
      joins.map(async (j) => ({ id: j.publicId, k: await shuffleKey(summary.seed!, j.publicId) })),
    )
    const drawn = keys.sort((a, b) => a.k - b.k).map((x) => x.id)
    expect(admissions.map((a: any) => a.publicId)).toEqual(drawn.slice(0, 3))
    const last = drawn.at(-1)!
    const place = FairnessPlace.parse((await get(`/api/sales/${saleId}/fairness/places/${last}`)).json)
    expect(place).toMatchObject({ draw: { rank: 6, of: 6, key: keys.at(-1)!.k }, admissions: [] })

    // The verifier's own code, run here in workerd on what the edge publishes (core's catalog gives the stock).
    const sale = { saleId, sku: 'S', name: 'Drop', priceCents: 100, currency: 'USD', stock: 3, available: 0, sold: 3 }
    mockCore(() => Response.json({ ...sale, startsAt: new Date(startsAt).toISOString() }))
    const verdict = await verifyFairness(
      await fetchPublicFairness(EDGE_URL, saleId, async (url) => exports.default.fetch(new Request(url))),
    )
    expect(verdict.checks.filter((c) => c.ok === false)).toEqual([])
    expect(verdict).toMatchObject({ ok: true, admitted: 3, stock: 3 })
  })
})
