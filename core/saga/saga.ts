import type pg from 'pg'

/**
 * A step failure that retrying will not fix (card declined, hold expired). Before the saga's pivot it
 * triggers compensation; any other error is retried by the job runner with the step's state intact.
 */
export class PermanentFailure extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'PermanentFailure'
  }
}

/**
 * Stop for now without failing: the saga keeps its state (status SUSPENDED) and does nothing until
 * something resumes it (reconciliation, once it has learnt what it was waiting for). Allowed before
 * and after the pivot.
 */
export class SuspendSaga extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'SuspendSaga'
  }
}

/**
 * Another run of the same saga wrote to it since this run last read it (a stalled job re-run while the first run
 * is still alive, a resume racing a slow run). This run stops at once: what it read is stale, so any decision
 * it would take next (a compensation above all) could undo the other run's work. The other run carries on.
 */
export class SagaSuperseded extends Error {
  constructor(readonly sagaId: string) {
    super(`saga ${sagaId} was moved on by another run`)
    this.name = 'SagaSuperseded'
  }
}

export interface StepResult<O, U> {
  output: O
  /** The least the compensation needs (ids, not whole records). */
  undo: U
}

export function stepResult<O, U = O>(output: O, undo?: U): StepResult<O, U> {
  return { output, undo: (undo === undefined ? output : undo) as U }
}

export interface StepContext<Deps> {
  deps: Deps
  /** Outputs of the steps already completed, by step id. */
  results: Record<string, unknown>
}

export interface Step<I, Deps> {
  id: string
  invoke(input: I, ctx: StepContext<Deps>): Promise<StepResult<unknown, unknown>>
  /**
   * The same step for many sagas at once (see runSagaBatch), one settled result per item, in order. Each
   * item must end exactly as `invoke` would have ended it; without it the batch calls `invoke` per item.
   */
  invokeMany?: (items: BatchItem<I>[], deps: Deps) => Promise<PromiseSettledResult<StepResult<unknown, unknown>>[]>
  compensate?: (undo: unknown, deps: Deps, failure: string) => Promise<void>
}

export interface BatchItem<I> {
  input: I
  /** Outputs of the steps this item's saga already completed, by step id. */
  results: Record<string, unknown>
}

export function defineStep<I, Deps, O, U>(
  id: string,
  invoke: (input: I, ctx: StepContext<Deps>) => Promise<StepResult<O, U>>,
  compensate?: (undo: U | undefined, deps: Deps, failure: string) => Promise<void>,
  invokeMany?: (items: BatchItem<I>[], deps: Deps) => Promise<PromiseSettledResult<StepResult<O, U>>[]>,
): Step<I, Deps> {
  return { id, invoke, compensate: compensate as Step<I, Deps>['compensate'], invokeMany }
}

/**
 * Runs `many` for a batch; if it throws as a whole, runs `one` for each item, so an item the batch statement
 * cannot take fails alone (with its own error) instead of failing its neighbours on every retry.
 */
export async function manyOrEach<T, R>(
  items: T[],
  many: (items: T[]) => Promise<PromiseSettledResult<R>[]>,
  one: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  try {
    return await many(items)
  } catch {
    return Promise.allSettled(items.map(one))
  }
}

export const fulfilled = <R>(value: R): PromiseFulfilledResult<R> => ({ status: 'fulfilled', value })
export const rejected = (reason: unknown): PromiseRejectedResult => ({ status: 'rejected', reason })

export interface SagaDefinition<I, Deps> {
  id: string
  steps: Step<I, Deps>[]
  /** Once this step has completed the saga only moves forward: later failures are retried, never compensated. */
  pivot: string
}

export type SagaStatus = 'RUNNING' | 'SUSPENDED' | 'COMPLETED' | 'COMPENSATING' | 'COMPENSATED'
export interface CompletedStep {
  step: string
  /** When it was recorded (set by Postgres). */
  at?: string
  output: unknown
  undo: unknown
  compensated?: boolean
}
export interface SagaRecord {
  id: string
  status: SagaStatus
  completed: CompletedStep[]
  failure: string | null
  /** The row's version as this run last read or wrote it; each of the run's writes requires it and moves it on. */
  version: number
}

const COLUMNS = 'id, status, completed_steps, failure, version'

/** A saga as read from its row (`SELECT ${COLUMNS}`). */
const recordOf = (row: {
  id: string
  status: SagaStatus
  completed_steps: CompletedStep[]
  failure: string | null
  version: string
}): SagaRecord => ({
  id: row.id,
  status: row.status,
  completed: row.completed_steps,
  failure: row.failure,
  version: Number(row.version),
})

/**
 * Saga state and step log in Postgres, so a saga resumes where it stopped after any crash. Every write a run makes
 * is conditional on the version it last saw (optimistic concurrency): of two runs of one saga, the first to write
 * moves on and the other gets `SagaSuperseded` from its next write.
 */
export class SagaStore {
  /**
   * `progressDb`: where the batch runner's progress records go, one statement each: a pool whose sessions
   * commit without waiting for the WAL flush (`progressPool`). Safe because they only record progress: every
   * step is idempotent, so a record lost with a Postgres crash (never with a process crash) only makes the
   * step run again, and the version it carried is lost with it, so the run that wrote it stops at its next write;
   * and any later durable write (every step's own effect in Postgres) flushes the WAL before it, records
   * included. Default: `db`, committing durably.
   */
  constructor(
    private readonly db: pg.Pool,
    private readonly progressDb: Pick<pg.Pool, 'query'> = db,
  ) {}

  private progress(sql: string, params: unknown[]): Promise<pg.QueryResult> {
    return this.progressDb.query(sql, params)
  }

  /** One write to `record`'s row, made only if nobody wrote since (`AND version = $2` in `sql`); moves its version. */
  private async write(record: SagaRecord, sql: string, params: unknown[]): Promise<void> {
    const { rowCount } = await this.db.query(sql, [record.id, record.version, ...params])
    if (!rowCount) throw new SagaSuperseded(record.id)
    record.version++
  }

  /**
   * Records a saga that will start later, in a caller's transaction, together with what it is about. Nothing
   * happens if it is already recorded.
   */
  async create(id: string, kind: string, input: unknown, db: Pick<pg.Pool, 'query'>): Promise<void> {
    await db.query(
      `INSERT INTO sagas (id, kind, status, input) VALUES ($1, $2, 'RUNNING', $3) ON CONFLICT (id) DO NOTHING`,
      [id, kind, JSON.stringify(input)],
    )
  }

  /** Starts a saga, or reads it as it stands when it already exists. */
  async begin(id: string, kind: string, input: unknown): Promise<SagaRecord> {
    const { rows } = await this.db.query(
      `WITH inserted AS (
         INSERT INTO sagas (id, kind, status, input) VALUES ($1, $2, 'RUNNING', $3)
         ON CONFLICT (id) DO NOTHING
         RETURNING ${COLUMNS})
       SELECT * FROM inserted
       UNION ALL
       SELECT ${COLUMNS} FROM sagas WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM inserted)`,
      [id, kind, JSON.stringify(input)],
    )
    // Two runs starting at once (a stalled job re-run): the loser's statement waited for the winner's insert,
    // but its snapshot predates it and sees no row. A new statement sees the winner's.
    const again = () => this.db.query(`SELECT ${COLUMNS} FROM sagas WHERE id = $1`, [id])
    const row = rows[0] ?? (await again()).rows[0]
    if (!row) throw new Error(`saga ${id} could not be started or read`)
    return recordOf(row)
  }

  /** `begin` for many sagas in one statement. */
  async beginMany(items: { id: string; input: unknown }[], kind: string): Promise<Map<string, SagaRecord>> {
    const ids = items.map((item) => item.id)
    const { rows } = await this.progress(
      `WITH inserted AS (
         INSERT INTO sagas (id, kind, status, input)
         SELECT id, $3, 'RUNNING', input FROM unnest($1::text[], $2::jsonb[]) AS t(id, input)
         ON CONFLICT (id) DO NOTHING
         RETURNING ${COLUMNS})
       SELECT * FROM inserted
       UNION ALL
       SELECT ${COLUMNS} FROM sagas WHERE id = ANY($1) AND id NOT IN (SELECT id FROM inserted)`,
      [ids, items.map((item) => JSON.stringify(item.input)), kind],
    )
    const records = new Map<string, SagaRecord>()
    for (const row of rows) records.set(row.id, recordOf(row))
    const unseen = ids.filter((id) => !records.has(id))
    // As in `begin`: rows another run inserted during this statement are only seen by the next one.
    if (unseen.length) {
      const again = await this.db.query(`SELECT ${COLUMNS} FROM sagas WHERE id = ANY($1)`, [unseen])
      for (const row of again.rows) records.set(row.id, recordOf(row))
    }
    for (const id of ids) if (!records.has(id)) throw new Error(`saga ${id} could not be started or read`)
    return records
  }

  /**
   * `completed` for many sagas in one statement; `then`: their status afterwards (the last step). Answers the
   * sagas another run wrote to meanwhile, whose steps were not recorded.
   */
  async completedMany(done: { record: SagaRecord; entry: CompletedStep }[], then?: SagaStatus): Promise<Set<string>> {
    const rows = done.map(({ record, entry }) => ({ id: record.id, version: record.version, entry }))
    const { rows: written } = await this.progress(
      `UPDATE sagas s SET completed_steps = s.completed_steps || jsonb_build_array(d.entry || jsonb_build_object('at', now())),
         status = COALESCE($2, s.status), version = s.version + 1, updated_at = now()
       FROM (SELECT e->>'id' AS id, (e->>'version')::bigint AS version, e->'entry' AS entry
             FROM jsonb_array_elements($1::jsonb) AS e) AS d
       WHERE s.id = d.id AND s.version = d.version
       RETURNING s.id`,
      [JSON.stringify(rows), then ?? null],
    )
    return this.moved(
      done.map((d) => d.record),
      written,
    )
  }

  /** Sets many sagas' status in one statement; answers those another run wrote to meanwhile (left as they are). */
  async statusMany(records: SagaRecord[], status: SagaStatus): Promise<Set<string>> {
    if (records.length === 0) return new Set()
    const { rows: written } = await this.progress(
      `UPDATE sagas s SET status = $2, version = s.version + 1, updated_at = now()
       FROM unnest($1::text[], $3::bigint[]) AS d(id, version) WHERE s.id = d.id AND s.version = d.version
       RETURNING s.id`,
      [records.map((r) => r.id), status, records.map((r) => r.version)],
    )
    return this.moved(records, written)
  }

  /** After a batch write: moves the version of the records written, answers the ids of the others. */
  private moved(records: SagaRecord[], written: { id: string }[]): Set<string> {
    const ok = new Set(written.map((row) => row.id))
    const superseded = new Set<string>()
    for (const record of records) {
      if (ok.has(record.id)) record.version++
      else superseded.add(record.id)
    }
    return superseded
  }

  /**
   * Records a completed step in the saga's own row, with its time (the `saga_history` view shows it next to
   * the failures and compensations of `saga_step_log`).
   */
  async completed(record: SagaRecord, entry: CompletedStep): Promise<void> {
    await this.write(
      record,
      `UPDATE sagas SET completed_steps = completed_steps || jsonb_build_array($3::jsonb || jsonb_build_object('at', now())),
         version = version + 1, updated_at = now() WHERE id = $1 AND version = $2`,
      [JSON.stringify(entry)],
    )
  }

  async status(record: SagaRecord, status: SagaStatus, failure?: string): Promise<void> {
    await this.write(
      record,
      `UPDATE sagas SET status = $3, failure = COALESCE($4, failure), version = version + 1, updated_at = now()
       WHERE id = $1 AND version = $2`,
      [status, failure ?? null],
    )
  }

  /** A suspended saga runs again: RUNNING, its suspension reason cleared. */
  async resume(record: SagaRecord): Promise<void> {
    await this.write(
      record,
      `UPDATE sagas SET status = 'RUNNING', failure = NULL, version = version + 1, updated_at = now()
       WHERE id = $1 AND version = $2 AND status = 'SUSPENDED'`,
      [],
    )
  }

  /** Called after the write it reports, so a run that was overtaken logs nothing. */
  async log(
    id: string,
    step: string,
    outcome: 'failed' | 'compensated' | 'suspended',
    detail: string | null,
  ): Promise<void> {
    await this.db.query('INSERT INTO saga_step_log (saga_id, step, outcome, detail) VALUES ($1, $2, $3, $4)', [
      id,
      step,
      outcome,
      detail,
    ])
  }

  /** Marks a completed step as compensated, keeping its record. */
  async compensated(record: SagaRecord, step: string): Promise<void> {
    await this.write(
      record,
      `UPDATE sagas SET version = version + 1, updated_at = now(), completed_steps = (
         SELECT jsonb_agg(CASE WHEN e->>'step' = $3 THEN e || '{"compensated": true}' ELSE e END ORDER BY n)
         FROM jsonb_array_elements(completed_steps) WITH ORDINALITY AS t(e, n))
       WHERE id = $1 AND version = $2`,
      [step],
    )
  }
}

/**
 * Runs (or resumes) one saga: skips steps already recorded as completed, runs the rest in order,
 * and on a permanent failure before the pivot runs the compensations of completed steps in reverse.
 * Every step and compensation must be idempotent: a crash between doing and recording repeats it.
 * Rejects with `SagaSuperseded` when another run of the saga wrote to it meanwhile: that run carries on.
 */
export async function runSaga<I, Deps>(
  saga: SagaDefinition<I, Deps>,
  store: SagaStore,
  sagaId: string,
  input: I,
  deps: Deps,
  observe?: Observe,
): Promise<SagaRecord> {
  const record = await store.begin(sagaId, saga.id, input)
  if (record.status === 'COMPLETED' || record.status === 'COMPENSATED') return record
  if (record.status === 'COMPENSATING')
    return compensateSaga(saga, store, record, deps, record.failure ?? 'unknown', observe)
  if (record.status === 'SUSPENDED') {
    await store.resume(record)
    record.status = 'RUNNING'
    record.failure = null
  }

  const results: Record<string, unknown> = {}
  for (const done of record.completed) results[done.step] = done.output
  let pivotPassed = saga.pivot in results

  for (const step of saga.steps) {
    if (step.id in results) continue
    let result: StepResult<unknown, unknown>
    try {
      result = await step.invoke(input, { deps, results })
    } catch (error) {
      if (error instanceof SuspendSaga || (error instanceof PermanentFailure && !pivotPassed))
        return settleFailure(saga, store, record, step.id, error, deps, observe)
      throw error
    }
    const entry: CompletedStep = { step: step.id, output: result.output ?? null, undo: result.undo ?? null }
    await store.completed(record, entry)
    observe?.(step.id, 'completed')
    record.completed.push(entry)
    results[step.id] = entry.output
    if (step.id === saga.pivot) pivotPassed = true
  }
  await store.status(record, 'COMPLETED')
  return { ...record, status: 'COMPLETED' }
}

/**
 * A saga failed at `stepId`: suspend it, or (a permanent failure before the pivot) compensate it. The status is
 * written first: a run that was overtaken (its failure may be the other run's success, a hold already sold)
 * stops there, before logging or undoing anything.
 */
export async function settleFailure<I, Deps>(
  saga: SagaDefinition<I, Deps>,
  store: SagaStore,
  record: SagaRecord,
  stepId: string,
  error: SuspendSaga | PermanentFailure,
  deps: Deps,
  observe?: Observe,
): Promise<SagaRecord> {
  if (error instanceof SuspendSaga) {
    await store.status(record, 'SUSPENDED', error.reason)
    await store.log(record.id, stepId, 'suspended', error.reason)
    return { ...record, status: 'SUSPENDED', failure: error.reason }
  }
  await store.status(record, 'COMPENSATING', error.reason)
  await store.log(record.id, stepId, 'failed', error.reason)
  observe?.(stepId, 'failed')
  return compensateSaga(
    saga,
    store,
    { ...record, status: 'COMPENSATING', failure: error.reason },
    deps,
    error.reason,
    observe,
  )
}

export type Observe = (step: string, outcome: 'completed' | 'failed' | 'compensated') => void

export async function compensateSaga<I, Deps>(
  saga: SagaDefinition<I, Deps>,
  store: SagaStore,
  record: SagaRecord,
  deps: Deps,
  failure: string,
  observe?: Observe,
): Promise<SagaRecord> {
  const steps = record.completed.map((s) => ({ ...s }))
  for (let i = steps.length - 1; i >= 0; i--) {
    const done = steps[i]!
    if (done.compensated) continue
    const step = saga.steps.find((s) => s.id === done.step)
    await step?.compensate?.(done.undo ?? undefined, deps, failure)
    done.compensated = true
    await store.compensated(record, done.step)
    await store.log(record.id, done.step, 'compensated', failure)
    observe?.(done.step, 'compensated')
  }
  await store.status(record, 'COMPENSATED', failure)
  return { ...record, status: 'COMPENSATED', completed: steps, failure }
}
