import { afterEach, describe, expect, it } from 'vitest'
import type { TestCore } from '../../test/support/core.ts'
import { checkoutCrowd, startCartCore } from './fixtures.ts'

let core: TestCore | undefined

afterEach(async () => {
  await core?.destroy()
  core = undefined
})

async function start(failureRate: string) {
  core = await startCartCore({ SIM_PAYMENT_FAILURE_RATE: failureRate })
  return core
}

async function paymentsOf(core: TestCore) {
  const { rows } = await core.db.query<{ status: string; n: number }>(
    `SELECT p.status, count(*)::int AS n FROM payments p JOIN orders o ON o.id = p.order_id
      WHERE o.kind = 'cart' GROUP BY p.status`,
  )
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}

describe('when 1,000 shoppers check out a cart line on a SKU with 10 in stock', () => {
  it('should confirm exactly 10, oversell none, and leave every reservation sold or released', async () => {
    const result = await checkoutCrowd(await start('0'), { shoppers: 1000, sku: 'BASSLINE-PARTY', stock: 10 })

    expect(result).toMatchObject({
      confirmed: 10,
      unitsSold: 10,
      oversold: 0,
      reservationsLeft: 0,
      stockLeft: 0,
      failed: 0,
    })
    expect(await paymentsOf(core!)).toEqual({ CAPTURED: 10 })
    const { rows } = await core!.db.query(`SELECT status, count(*)::int AS n FROM cart_reservations GROUP BY status`)
    expect(rows).toEqual([{ status: 'sold', n: 10 }])
  }, 180_000)

  it('should still sell exactly 10 with 30% of payments declined, every declined unit back and resold', async () => {
    const result = await checkoutCrowd(await start('0.3'), { shoppers: 1000, sku: 'BASSLINE-PARTY', stock: 10 })

    expect(result).toMatchObject({ confirmed: 10, unitsSold: 10, oversold: 0, reservationsLeft: 0, stockLeft: 0 })
    // Declines are drawn per order (about 3 in 10): each declined order's unit went back and was sold again.
    const payments = await paymentsOf(core!)
    expect(payments.CAPTURED).toBe(10)
    expect(payments.DECLINED ?? 0).toBe(result.failed)
    expect(Object.keys(payments).sort()).toEqual(result.failed ? ['CAPTURED', 'DECLINED'] : ['CAPTURED'])
    const { rows } = await core!.db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM cart_reservations GROUP BY status ORDER BY status`,
    )
    expect(rows).toEqual([
      ...(result.failed ? [{ status: 'released', n: result.failed }] : []),
      { status: 'sold', n: 10 },
    ])
  }, 180_000)
})
