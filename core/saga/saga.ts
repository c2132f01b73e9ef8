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
  compensate?: (undo: unknown, deps: Deps, failure: string) => Promise<void>
}

export function defineStep<I, Deps, O, U>(
  id: string,
  invoke: (input: I, ctx: StepContext<Deps>) => Promise<StepResult<O, U>>,
  compensate?: (undo: U | undefined, deps: Deps, failure: string) => Promise<void>,
): Step<I, Deps> {
  return { id, invoke, compensate: compensate as Step<I, Deps>['compensate'] }
}

export interface SagaDefinition<I, Deps> {
  id: string
  steps: Step<I, Deps>[]
  /** Once this step has completed the saga only moves forward: later failures are retried, never compensated. */
  pivot: string
}

export type SagaStatus = 'RUNNING' | 'SUSPENDED' | 'COMPLETED' | 'COMPENSATING' | 'COMPENSATED'
interface CompletedStep {
  step: string
  output: unknown
  undo: unknown
  compensated?: boolean
}
export interface SagaRecord {
  id: string
  status: SagaStatus
  completed: CompletedStep[]
  failure: string | null
}

/** Saga state and step log in Postgres, so a saga resumes where it stopped after any crash. */
export class SagaStore {
  constructor(private readonly db: pg.Pool) {}

  async begin(id: string, kind: string, input: unknown): Promise<SagaRecord> {
    const { rows } = await this.db.query(
      `WITH inserted AS (
         INSERT INTO sagas (id, kind, status, input) VALUES ($1, $2, 'RUNNING', $3)
         ON CONFLICT (id) DO NOTHING
         RETURNING id, status, completed_steps, failure)
       SELECT * FROM inserted
       UNION ALL
       SELECT id, status, completed_steps, failure FROM sagas WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM inserted)`,
      [id, kind, JSON.stringify(input)],
    )
    // Two runs starting at once (a stalled job re-run): the loser's statement waited for the winner's insert,
    // but its snapshot predates it and sees no row. A new statement sees the winner's.
    const row = rows[0] ?? (await this.db.query('SELECT id, status, completed_steps, failure FROM sagas WHERE id = $1', [id])).rows[0]
    if (!row) throw new Error(`saga ${id} could not be started or read`)
    return { id: row.id, status: row.status, completed: row.completed_steps, failure: row.failure }
  }

  async completed(id: string, entry: CompletedStep): Promise<void> {
    await this.db.query(
      `WITH updated AS (
         UPDATE sagas SET completed_steps = completed_steps || $2::jsonb, updated_at = now() WHERE id = $1)
       INSERT INTO saga_step_log (saga_id, step, outcome) VALUES ($1, $3, 'completed')`,
      [id, JSON.stringify([entry]), entry.step],
    )
  }

  async status(id: string, status: SagaStatus, failure?: string): Promise<void> {
    await this.db.query('UPDATE sagas SET status = $2, failure = COALESCE($3, failure), updated_at = now() WHERE id = $1', [
      id,
      status,
      failure ?? null,
    ])
  }

  /** A suspended saga runs again: RUNNING, its suspension reason cleared. */
  async resume(id: string): Promise<void> {
    await this.db.query(`UPDATE sagas SET status = 'RUNNING', failure = NULL, updated_at = now() WHERE id = $1 AND status = 'SUSPENDED'`, [id])
  }

  async log(id: string, step: string, outcome: 'failed' | 'compensated' | 'suspended', detail: string | null): Promise<void> {
    await this.db.query('INSERT INTO saga_step_log (saga_id, step, outcome, detail) VALUES ($1, $2, $3, $4)', [id, step, outcome, detail])
  }

  async compensated(id: string, steps: CompletedStep[]): Promise<void> {
    await this.db.query('UPDATE sagas SET completed_steps = $2::jsonb, updated_at = now() WHERE id = $1', [id, JSON.stringify(steps)])
  }
}

/**
 * Runs (or resumes) one saga: skips steps already recorded as completed, runs the rest in order,
 * and on a permanent failure before the pivot runs the compensations of completed steps in reverse.
 * Every step and compensation must be idempotent: a crash between doing and recording repeats it.
 */
export async function runSaga<I, Deps>(
  saga: SagaDefinition<I, Deps>,
  store: SagaStore,
  sagaId: string,
  input: I,
  deps: Deps,
  observe?: (step: string, outcome: 'completed' | 'failed' | 'compensated') => void,
): Promise<SagaRecord> {
  let record = await store.begin(sagaId, saga.id, input)
  if (record.status === 'COMPLETED' || record.status === 'COMPENSATED') return record
  if (record.status === 'COMPENSATING') return compensate(saga, store, record, deps, record.failure ?? 'unknown', observe)
  if (record.status === 'SUSPENDED') {
    await store.resume(sagaId)
    record = { ...record, status: 'RUNNING', failure: null }
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
      if (error instanceof SuspendSaga) {
        await store.log(sagaId, step.id, 'suspended', error.reason)
        await store.status(sagaId, 'SUSPENDED', error.reason)
        return { ...record, status: 'SUSPENDED', failure: error.reason }
      }
      if (error instanceof PermanentFailure && !pivotPassed) {
        await store.log(sagaId, step.id, 'failed', error.reason)
        observe?.(step.id, 'failed')
        await store.status(sagaId, 'COMPENSATING', error.reason)
        record = { ...record, status: 'COMPENSATING', failure: error.reason }
        return compensate(saga, store, record, deps, error.reason, observe)
      }
      throw error
    }
    const entry: CompletedStep = { step: step.id, output: result.output ?? null, undo: result.undo ?? null }
    await store.completed(sagaId, entry)
    observe?.(step.id, 'completed')
    record.completed.push(entry)
    results[step.id] = entry.output
    if (step.id === saga.pivot) pivotPassed = true
  }
  await store.status(sagaId, 'COMPLETED')
  return { ...record, status: 'COMPLETED' }
}

async function compensate<I, Deps>(
  saga: SagaDefinition<I, Deps>,
  store: SagaStore,
  record: SagaRecord,
  deps: Deps,
  failure: string,
  observe?: (step: string, outcome: 'completed' | 'failed' | 'compensated') => void,
): Promise<SagaRecord> {
  const steps = record.completed.map((s) => ({ ...s }))
  for (let i = steps.length - 1; i >= 0; i--) {
    const done = steps[i]!
    if (done.compensated) continue
    const step = saga.steps.find((s) => s.id === done.step)
    await step?.compensate?.(done.undo ?? undefined, deps, failure)
    done.compensated = true
    await store.compensated(record.id, steps)
    await store.log(record.id, done.step, 'compensated', failure)
    observe?.(done.step, 'compensated')
  }
  await store.status(record.id, 'COMPENSATED', failure)
  return { ...record, status: 'COMPENSATED', completed: steps, failure }
}
