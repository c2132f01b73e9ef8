/**
 * Every write to a payment row, as a named transition: the payment domain owns the `payments` table (and
 * `flags` for confirmed orders without a charge; refunds are in payments.ts). The checkout saga's steps and
 * reconciliation move payments only through these. Each transition is guarded by the states it may leave,
 * so a repeat, or a late step after reconciliation moved the row forward, changes nothing.
 *
 *   (none) --open--> PENDING --authorized--> AUTHORIZED --captured--> CAPTURED (refunds: payments.ts)
 *                       |    \--declined--> DECLINED        \--voided--> VOIDED
 *                       \------------------------------------voided--> VOIDED
 */
import type pg from 'pg'

type Db = Pick<pg.Pool, 'query'>

/** What the authorize step reads back when it opens (or finds) the payment. */
export interface PaymentRow {
  status: string
  gateway_ref: string | null
  attempts: number
  failure: string | null
}

export interface NewPayment {
  orderId: string
  amountCents: number
  currency: string
}

/** Writes the payment PENDING before the first gateway call (or returns the row already there). */
export async function openPayment(db: Db, gateway: string, p: NewPayment): Promise<PaymentRow> {
  const { rows } = await db.query<PaymentRow>(
    `INSERT INTO payments (order_id, gateway, status, amount_cents, currency) VALUES ($1, $2, 'PENDING', $3, $4)
     ON CONFLICT (order_id) DO UPDATE SET updated_at = payments.updated_at
     RETURNING status, gateway_ref, attempts, failure`,
    [p.orderId, gateway, p.amountCents, p.currency],
  )
  return rows[0]!
}

/**
 * `openPayment` for a batch, each new row written with its first call already counted (attempts = 1): one
 * write instead of two. `inserted` tells the new rows from the ones found.
 */
export async function openPayments(db: Db, gateway: string, payments: NewPayment[]) {
  const { rows } = await db.query<PaymentRow & { order_id: string; inserted: boolean }>(
    `INSERT INTO payments (order_id, gateway, status, amount_cents, currency, attempts)
     SELECT p."orderId", $2, 'PENDING', p."amountCents", p.currency, 1
     FROM jsonb_to_recordset($1::jsonb) AS p("orderId" text, "amountCents" bigint, currency text)
     ORDER BY p."orderId"
     ON CONFLICT (order_id) DO UPDATE SET updated_at = payments.updated_at
     RETURNING order_id, status, gateway_ref, attempts, failure, (xmax = 0) AS inserted`,
    [
      JSON.stringify(payments.map(({ orderId, amountCents, currency }) => ({ orderId, amountCents, currency }))),
      gateway,
    ],
  )
  return rows
}

/** Counts one more gateway call, unless `maxTries` are spent; true when the call may go ahead. */
export async function countAttempt(db: Db, orderId: string, maxTries: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE payments SET attempts = attempts + 1, updated_at = now() WHERE order_id = $1 AND attempts < $2`,
    [orderId, maxTries],
  )
  return rowCount === 1
}

/** `countAttempt` for many; answers the orders whose call may go ahead. */
export async function countAttempts(db: Db, orderIds: string[], maxTries: number): Promise<string[]> {
  const { rows } = await db.query<{ order_id: string }>(
    `UPDATE payments SET attempts = attempts + 1, updated_at = now() WHERE order_id = ANY($1) AND attempts < $2
     RETURNING order_id`,
    [orderIds, maxTries],
  )
  return rows.map((row) => row.order_id)
}

export async function attemptsSpent(db: Db, orderId: string, maxTries: number): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM payments WHERE order_id = $1 AND attempts >= $2`, [
    orderId,
    maxTries,
  ])
  return (rowCount ?? 0) > 0
}

/** The gateway answers again (reconciliation): a suspended payment gets a fresh budget of calls. */
export async function resetAttempts(db: Db, orderId: string): Promise<void> {
  await db.query(`UPDATE payments SET attempts = 0, updated_at = now() WHERE order_id = $1 AND status = 'PENDING'`, [
    orderId,
  ])
}

export async function markAuthorized(db: Db, orderId: string, ref: string): Promise<void> {
  await db.query(
    `UPDATE payments SET status = 'AUTHORIZED', gateway_ref = $2, updated_at = now() WHERE order_id = $1 AND status = 'PENDING'`,
    [orderId, ref],
  )
}

export async function markDeclined(db: Db, orderId: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE payments SET status = 'DECLINED', failure = $2, updated_at = now() WHERE order_id = $1 AND status = 'PENDING'`,
    [orderId, reason],
  )
}

/** The gateway's answers for a batch of PENDING payments, authorized (`ref`) or declined (`reason`), in one write. */
export async function markAnswered(
  db: Db,
  answers: Array<{ orderId: string; ref?: string; reason?: string }>,
): Promise<void> {
  if (answers.length === 0) return
  await db.query(
    `WITH answers AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS a("orderId" text, ref text, reason text))
     UPDATE payments p SET status = CASE WHEN a.ref IS NULL THEN 'DECLINED' ELSE 'AUTHORIZED' END,
       gateway_ref = COALESCE(a.ref, p.gateway_ref), failure = COALESCE(a.reason, p.failure), updated_at = now()
     FROM answers a WHERE p.order_id = a."orderId" AND p.status = 'PENDING'`,
    [JSON.stringify(answers)],
  )
}

/** The authorization was released at the gateway (a compensation, or an orphan found by reconciliation). */
export async function markVoided(db: Db, orderId: string): Promise<void> {
  await db.query(
    `UPDATE payments SET status = 'VOIDED', updated_at = now() WHERE order_id = $1 AND status IN ('AUTHORIZED', 'PENDING')`,
    [orderId],
  )
}

/** Charged at the gateway: one write for the lot. */
export async function markCaptured(db: Db, captured: Array<{ orderId: string; amountCents: number }>): Promise<void> {
  if (captured.length === 0) return
  await db.query(
    `UPDATE payments p SET status = 'CAPTURED', captured_cents = c."amountCents", updated_at = now()
     FROM jsonb_to_recordset($1::jsonb) AS c("orderId" text, "amountCents" bigint)
     WHERE p.order_id = c."orderId" AND p.status IN ('AUTHORIZED', 'PENDING')`,
    [JSON.stringify(captured.map(({ orderId, amountCents }) => ({ orderId, amountCents })))],
  )
}

/** A confirmed order whose charge is missing, for a person to settle. Once per order; true when newly flagged. */
export async function flagConfirmedWithoutPayment(db: Db, orderId: string, detail: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO flags (kind, order_id, detail) VALUES ('confirmed_without_payment', $1, $2)
     ON CONFLICT (kind, order_id) DO NOTHING`,
    [orderId, detail],
  )
  return rowCount === 1
}
