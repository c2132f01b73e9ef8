import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestSale, startTestCore, type TestCore } from '../../../test/support/core.ts'
import { RoomDouble } from '../../../test/support/room-double.ts'
import { SimulatedGateway } from '../../payment/simulated-gateway.ts'
import { PermanentFailure, type BatchItem } from '../../saga/saga.ts'
import type { CheckoutDeps, CheckoutInput } from '../deps.ts'
import { authorizePaymentStep } from './authorize-payment.ts'
import { capturePaymentStep } from './capture-payment.ts'
import { confirmOrderStep } from './confirm-order.ts'
import { createOrderStep } from './create-order.ts'

let core: TestCore
let room: RoomDouble
let deps: CheckoutDeps
const gateway = new SimulatedGateway({ latencyMs: 1, failureRate: 0.3 })

beforeAll(async () => {
  room = await new RoomDouble().start()
  core = await startTestCore({ EDGE_URL: room.url, ROLE: 'api' }, { gateway })
  deps = {
    db: core.db,
    scripts: core.scripts,
    gateway,
    reportToken: async () => {},
    logger: core.logger,
    payments: { callTries: 1, maxTries: 3, backoffMs: 1 },
  }
})
afterAll(async () => {
  await core?.destroy()
  await room?.close()
})

const input = (saleId: string, n: number, shopper = `shopper-${n}`): CheckoutInput => ({
  orderId: `ord_${saleId}_${String(n).padStart(3, '0')}`,
  saleId,
  tid: `tok-${n}`,
  gen: 0,
  shopper,
  paymentMethod: 'pm_card_visa',
  amountCents: 4999,
  currency: 'USD',
  idempotencyKey: `key-${saleId}-${n}`,
  redeemedAt: Date.now(),
})
const batch = (inputs: CheckoutInput[]): BatchItem<CheckoutInput>[] => inputs.map((i) => ({ input: i, results: {} }))
const reasons = (settled: PromiseSettledResult<unknown>[]) =>
  settled.map((s) =>
    s.status === 'fulfilled'
      ? 'ok'
      : s.reason instanceof PermanentFailure
        ? s.reason.reason
        : `error:${(s.reason as Error).message}`,
  )
const count = async (sql: string, params: unknown[]) => Number((await core.db.query(sql, params)).rows[0].n)

async function pendingOrders(saleId: string, inputs: CheckoutInput[]) {
  const created = await createOrderStep.invokeMany!(batch(inputs), deps)
  expect(reasons(created)).toEqual(inputs.map(() => 'ok'))
  expect(await count(`SELECT count(*) AS n FROM orders WHERE sale_id = $1 AND status = 'PENDING'`, [saleId])).toBe(
    inputs.length,
  )
}

describe('when a batch of orders would pass the stock Postgres still has', () => {
  it('should confirm exactly what is left, refuse the rest as sold out, and never move sold past stock', async () => {
    await createTestSale(core, 'batch-stock', 5)
    // Redis let 4 through but Postgres has already sold 3 of 5 (Redis wrong): Postgres decides.
    await core.db.query(`UPDATE sales SET sold = 3 WHERE id = 'batch-stock'`)
    const inputs = [1, 2, 3, 4].map((n) => input('batch-stock', n))
    await pendingOrders('batch-stock', inputs)
    const settled = await confirmOrderStep.invokeMany!(batch(inputs), deps)
    expect(reasons(settled)).toEqual(['ok', 'ok', 'sold_out', 'sold_out'])
    expect(await count(`SELECT sold AS n FROM sales WHERE id = 'batch-stock'`, [])).toBe(5)
    expect(
      await count(`SELECT count(*) AS n FROM orders WHERE sale_id = 'batch-stock' AND status = 'CONFIRMED'`, []),
    ).toBe(2)
  })
})

describe('when one shopper has more orders in a batch than the per-shopper limit', () => {
  it('should confirm up to the limit and refuse the rest, counting each shopper once per unit', async () => {
    await createTestSale(core, 'batch-limit', 10, { perShopperLimit: 2 })
    const inputs = [
      input('batch-limit', 1, 'ann'),
      input('batch-limit', 2, 'ann'),
      input('batch-limit', 3, 'bob'),
      input('batch-limit', 4, 'ann'),
    ]
    await pendingOrders('batch-limit', inputs)
    const settled = await confirmOrderStep.invokeMany!(batch(inputs), deps)
    expect(reasons(settled)).toEqual(['ok', 'ok', 'ok', 'limit_reached'])
    const { rows } = await core.db.query(
      `SELECT shopper, units FROM shopper_purchases WHERE sale_id = 'batch-limit' ORDER BY shopper`,
    )
    expect(rows).toEqual([
      { shopper: 'ann', units: 2 },
      { shopper: 'bob', units: 1 },
    ])
    expect(await count(`SELECT sold AS n FROM sales WHERE id = 'batch-limit'`, [])).toBe(3)
  })

  it('should, run again over the same orders (a retried job), change nothing', async () => {
    const inputs = [input('batch-limit', 1, 'ann'), input('batch-limit', 2, 'ann'), input('batch-limit', 3, 'bob')]
    const settled = await confirmOrderStep.invokeMany!(batch(inputs), deps)
    expect(reasons(settled)).toEqual(['ok', 'ok', 'ok'])
    expect(await count(`SELECT sold AS n FROM sales WHERE id = 'batch-limit'`, [])).toBe(3)
    expect(await count(`SELECT sum(units) AS n FROM shopper_purchases WHERE sale_id = 'batch-limit'`, [])).toBe(3)
  })
})

describe('when a batch of payments is authorized and then captured', () => {
  it('should record each answer once, decline the declined, call the gateway once per order, and capture once each', async () => {
    await createTestSale(core, 'batch-pay', 50)
    const inputs = Array.from({ length: 40 }, (_, n) => input('batch-pay', n))
    await pendingOrders('batch-pay', inputs)
    const authorized = await authorizePaymentStep.invokeMany!(batch(inputs), deps)
    const outcome = reasons(authorized)
    const declined = outcome.filter((r) => r === 'payment_declined:card_declined').length
    expect(outcome.filter((r) => r === 'ok').length + declined).toBe(40)
    expect(declined).toBeGreaterThan(3) // 30% of 40, decided by each order's key
    const rows = await core.db.query<{ status: string; n: number }>(
      `SELECT p.status, count(*)::int AS n FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.sale_id = 'batch-pay' AND p.attempts = 1 GROUP BY p.status ORDER BY 1`,
    )
    expect(rows.rows).toEqual([
      { status: 'AUTHORIZED', n: 40 - declined },
      { status: 'DECLINED', n: declined },
    ])

    // the same batch again (a retried job): no new gateway calls, the same answers
    const again = await authorizePaymentStep.invokeMany!(batch(inputs), deps)
    expect(reasons(again)).toEqual(outcome)
    expect(
      await count(
        `SELECT max(p.attempts) AS n FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.sale_id = 'batch-pay'`,
        [],
      ),
    ).toBe(1)

    const toCapture = inputs
      .map((i, k) => ({
        input: i,
        results: {
          'authorize-payment-step': (authorized[k] as PromiseFulfilledResult<{ output: unknown }>).value?.output,
        },
      }))
      .filter((_, k) => authorized[k]!.status === 'fulfilled')
    for (let run = 0; run < 2; run++) {
      const captured = await capturePaymentStep.invokeMany!(toCapture, deps)
      expect(reasons(captured).every((r) => r === 'ok')).toBe(true)
    }
    const charges = [...gateway.ledger.values()].filter((e) => e.orderId.startsWith('ord_batch-pay_'))
    expect(charges).toHaveLength(40 - declined)
    expect(charges.every((e) => e.state === 'captured' && e.captures === 1)).toBe(true)
    expect(
      await count(
        `SELECT count(*) AS n FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.sale_id = 'batch-pay' AND p.status = 'CAPTURED' AND p.captured_cents = 4999`,
        [],
      ),
    ).toBe(40 - declined)
  })
})
