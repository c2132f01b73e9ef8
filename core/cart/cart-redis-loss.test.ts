import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestCore } from '../../test/support/core.ts'
import { dropRedisPrefix, uniqueName } from '../../test/support/services.ts'
import { bearer, signUp } from '../account/fixtures.ts'
import { call } from '../catalog/fixtures.ts'
import { cartHeader, startCartCore } from './fixtures.ts'

let core: TestCore

beforeAll(async () => {
  core = await startCartCore({ SCRYPT_LOG_N: '12' })
})
afterAll(async () => {
  await core?.destroy()
})

describe('when Redis loses every key mid-shopping', () => {
  it('should keep every cart and reservation (Postgres) and check out as before', async () => {
    const auth = await signUp(core, `${uniqueName('redis')}@example.com`)
    const guest = (await call(core, 'POST', '/v1/cart')).json.cartId
    expect((await call(core, 'PUT', '/v1/cart/lines/BRULEE-TORCH', { quantity: 1 }, cartHeader(guest))).status).toBe(
      200,
    )
    expect((await call(core, 'PUT', '/v1/cart/lines/SONIX-BLK', { quantity: 2 }, bearer(auth))).status).toBe(200)
    const quote = await call(core, 'POST', '/v1/cart/quote', undefined, bearer(auth))
    const stock = (await core.db.query(`SELECT stock FROM catalog_variants WHERE sku = 'SONIX-BLK'`)).rows[0].stock

    await dropRedisPrefix(core.redis, core.prefix)

    const guestCart = await call(core, 'GET', '/v1/cart', undefined, cartHeader(guest))
    expect(guestCart.json.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity])).toEqual([
      ['BRULEE-TORCH', 1],
    ])
    const checkout = await call(
      core,
      'POST',
      '/v1/cart/checkout',
      { quote: quote.json.quote },
      {
        ...bearer(auth),
        'idempotency-key': 'redis-loss-0001',
      },
    )
    expect(checkout.status).toBe(202)
    await core.carts.settled()
    const order = await call(core, 'GET', `/v1/orders/${checkout.json.orderId}`, undefined, {
      'x-floodgate-session': 'redis-loss-session-01',
      ...bearer(auth),
    })
    expect(order.json).toMatchObject({ status: 'confirmed', amountCents: 2 * 19900 })
    expect((await core.db.query(`SELECT stock FROM catalog_variants WHERE sku = 'SONIX-BLK'`)).rows[0].stock).toBe(
      stock - 2,
    )
  })
})
