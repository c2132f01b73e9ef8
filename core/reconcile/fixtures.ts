/** Test helpers of the reconciliation domain: a core whose jobs run only when a test calls them, and calling them. */
import { expect } from 'vitest'
import type { ReconcileReport } from '../../contracts/index.ts'
import type { TestCore } from '../../test/support/core.ts'
import type { CheckoutDeps } from '../checkout/deps.ts'
import type { PaymentGateway } from '../payment/gateway.ts'

/** Core settings: no reconcile or Redis-check timers, every saga counts as stuck at once, one payment call a try. */
export const RECONCILE_ON_CALL = {
  RECONCILE_STALE_MS: '0',
  PAYMENT_CALL_TRIES: '1',
  RECONCILE_INTERVAL_MS: '0',
  REDIS_CHECK_INTERVAL_MS: '0',
}

export const sagaStatus = async (core: TestCore, orderId: string) =>
  (await core.db.query('SELECT status FROM sagas WHERE id = $1', [orderId])).rows[0]?.status as string | undefined

/** Runs one reconcile job through the admin API and answers its report (expects 200). */
export async function reconcile(core: TestCore, job: string): Promise<ReconcileReport> {
  const res = await core.app.request(`/admin/reconcile/${job}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}` },
  })
  expect(res.status).toBe(200)
  return (await res.json()) as ReconcileReport
}

/** What a checkout saga run by hand reaches for: the test core's db, scripts and logger, this gateway and reporter. */
export function checkoutDeps(
  core: TestCore,
  gateway: PaymentGateway,
  reportToken: CheckoutDeps['reportToken'] = async () => {},
): CheckoutDeps {
  return { db: core.db, scripts: core.scripts, gateway, reportToken, logger: core.logger }
}
