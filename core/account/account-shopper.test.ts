import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomId, shopperOfAccount } from '../../contracts/index.ts'
import { createTestSale, eventually, startTestCore, type TestCore } from '../../test/support/core.ts'
import { RoomDouble } from '../../test/support/room-double.ts'
import { snapshotState } from '../../test/support/state.ts'
import { tokenAndGrant } from '../../test/support/tokens.ts'
import { call } from '../catalog/fixtures.ts'
import { bearer, signUp } from './fixtures.ts'

let core: TestCore
let room: RoomDouble
const SALE = 'acct-limit-1'

beforeAll(async () => {
  room = await new RoomDouble().start()
  core = await startTestCore({ EDGE_URL: room.url, SCRYPT_LOG_N: '12' })
  await createTestSale(core, SALE, 5, { perShopperLimit: 1 })
})
afterAll(async () => {
  await core?.destroy()
  await room?.close()
})

/** A token and a grant bound to `shopper`, as the room hands them (here: two tokens to one account). */
async function grantFor(shopper: string) {
  const { token, grant } = await tokenAndGrant(core.config, SALE, shopper)
  return { token, grant }
}

const redeem = (session: string, key: string, body: object, headers: Record<string, string> = {}) =>
  call(core, 'POST', '/v1/redeem', body, { 'x-floodgate-session': session, 'idempotency-key': key, ...headers })

describe('when one account redeems from two sessions', () => {
  it('should count both sessions as one shopper: the second unit is refused by the per-shopper limit', async () => {
    const auth = await signUp(core, `limit-${randomId(6)}@example.com`.toLowerCase())
    const shopper = await shopperOfAccount(auth.account.id)
    const [first, second] = [await grantFor(shopper), await grantFor(shopper)]

    const phoneSession = randomId()
    const phone = await redeem(phoneSession, 'acct-key-00001', first, bearer(auth))
    expect(phone.status, JSON.stringify(phone.json)).toBe(202)
    // Settled, and visible to the account from any session: nothing moves under the snapshot.
    await eventually(
      async () => {
        const order = await call(core, 'GET', `/v1/orders/${phone.json.orderId}`, undefined, {
          'x-floodgate-session': randomId(),
          ...bearer(auth),
        })
        return order.json?.status === 'confirmed' ? order : undefined
      },
      20_000,
      'the first order confirmed',
    )
    await eventually(
      async () => (room.outcomes.some((o) => o.outcome === 'sold') ? true : undefined),
      20_000,
      'the room told',
    )
    const before = await snapshotState(core.redis, core.db, core.prefix)
    const laptop = await redeem(randomId(), 'acct-key-00002', second, bearer(auth))

    expect(laptop.status).toBe(409)
    expect(laptop.json.error.code).toBe('limit_reached')
    expect(await snapshotState(core.redis, core.db, core.prefix)).toEqual(before)
  })

  it("should refuse an account's grant signed out, or with a forged access token, changing nothing", async () => {
    const auth = await signUp(core, `limit-${randomId(6)}@example.com`.toLowerCase())
    const grant = await grantFor(await shopperOfAccount(auth.account.id))
    const before = await snapshotState(core.redis, core.db, core.prefix)

    const signedOut = await redeem(randomId(), 'acct-key-00003', grant)
    expect(signedOut.status).toBe(403)
    expect(signedOut.json.error).toMatchObject({ code: 'grant_session_mismatch', field: 'grant' })
    const forged = await redeem(randomId(), 'acct-key-00004', grant, {
      authorization: `Bearer ${auth.accessToken.slice(0, -4)}AAAA`,
    })
    expect(forged.status).toBe(401)
    expect(forged.json.error.field).toBe('authorization')
    expect(await snapshotState(core.redis, core.db, core.prefix)).toEqual(before)
  })
})
