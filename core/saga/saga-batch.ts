import {
  PermanentFailure,
  SuspendSaga,
  fulfilled,
  rejected,
  SagaSuperseded,
  runSaga,
  settleFailure,
  type CompletedStep,
  type Observe,
  type SagaDefinition,
  type SagaRecord,
  type SagaStore,
  type StepResult,
} from './saga.ts'

export interface SagaItem<I> {
  sagaId: string
  input: I
}

/**
 * Runs many sagas of one definition side by side, step by step: every saga that still needs step N runs it
 * before any moves on to N+1, so a step with `invokeMany` does its work for the whole batch in a few
 * statements, and each step's completion is recorded for the batch in one statement.
 *
 * Per saga the outcome is exactly what `runSaga` would give: completed steps are skipped on a re-run, a
 * permanent failure before the pivot compensates that saga alone (through `runSaga`'s own compensation), a
 * suspension suspends that saga alone, and any other error fails that saga alone (its job is retried).
 * Sagas found COMPENSATING or SUSPENDED are handed to `runSaga` one by one: they are the rare path. A saga that
 * another run wrote to meanwhile leaves the batch with `SagaSuperseded`, as it would leave `runSaga`.
 */
export async function runSagaBatch<I, Deps>(
  saga: SagaDefinition<I, Deps>,
  store: SagaStore,
  items: SagaItem<I>[],
  deps: Deps,
  observe?: Observe,
): Promise<Map<string, PromiseSettledResult<SagaRecord>>> {
  const outcome = new Map<string, PromiseSettledResult<SagaRecord>>()
  const unique = [...new Map(items.map((item) => [item.sagaId, item])).values()].sort((a, b) =>
    a.sagaId < b.sagaId ? -1 : 1,
  )
  if (unique.length === 0) return outcome

  const records = await store.beginMany(
    unique.map((item) => ({ id: item.sagaId, input: item.input })),
    saga.id,
  )
  /** Sagas that left the batch to be settled on their own (rare paths), each recording its outcome. */
  const aside: Promise<void>[] = []
  const setAside = (sagaId: string, settling: Promise<SagaRecord>) =>
    aside.push(settling.then(fulfilled, rejected).then((result) => void outcome.set(sagaId, result)))
  const settleAlone = (item: SagaItem<I>) =>
    setAside(item.sagaId, runSaga(saga, store, item.sagaId, item.input, deps, observe))

  interface Live {
    item: SagaItem<I>
    record: SagaRecord
    results: Record<string, unknown>
  }
  let live: Live[] = []
  for (const item of unique) {
    const record = records.get(item.sagaId)!
    if (record.status === 'COMPLETED' || record.status === 'COMPENSATED') outcome.set(item.sagaId, fulfilled(record))
    else if (record.status !== 'RUNNING') settleAlone(item)
    else
      live.push({ item, record, results: Object.fromEntries(record.completed.map((done) => [done.step, done.output])) })
  }

  const last = saga.steps.at(-1)?.id
  const finished = new Set<string>()
  for (const step of saga.steps) {
    const due = live.filter((saga) => !(step.id in saga.results))
    if (due.length === 0) continue
    const settled: PromiseSettledResult<StepResult<unknown, unknown>>[] = step.invokeMany
      ? await step.invokeMany(
          due.map((s) => ({ input: s.item.input, results: s.results })),
          deps,
        )
      : await Promise.all(
          due.map((s) =>
            step.invoke(s.item.input, { deps, results: s.results }).then(
              (value) => ({ status: 'fulfilled' as const, value }),
              (reason: unknown) => ({ status: 'rejected' as const, reason }),
            ),
          ),
        )

    const done: { live: Live; entry: CompletedStep }[] = []
    const dropped = new Set<Live>()
    settled.forEach((result, i) => {
      const s = due[i]!
      if (result.status === 'fulfilled') {
        const entry: CompletedStep = {
          step: step.id,
          output: result.value.output ?? null,
          undo: result.value.undo ?? null,
        }
        done.push({ live: s, entry })
        return
      }
      dropped.add(s)
      const error = result.reason
      const pivotPassed = saga.pivot in s.results
      if (error instanceof SuspendSaga || (error instanceof PermanentFailure && !pivotPassed)) {
        setAside(s.item.sagaId, settleFailure(saga, store, s.record, step.id, error, deps, observe))
      } else {
        outcome.set(s.item.sagaId, rejected(error))
      }
    })
    if (done.length) {
      const superseded = await store.completedMany(
        done.map(({ live, entry }) => ({ record: live.record, entry })),
        step.id === last ? 'COMPLETED' : undefined,
      )
      for (const { live: s, entry } of done) {
        if (superseded.has(s.item.sagaId)) {
          dropped.add(s)
          outcome.set(s.item.sagaId, rejected(new SagaSuperseded(s.item.sagaId)))
          continue
        }
        s.record.completed.push(entry)
        s.results[step.id] = entry.output
        observe?.(step.id, 'completed')
        if (step.id === last) finished.add(s.item.sagaId)
      }
    }
    if (dropped.size) live = live.filter((s) => !dropped.has(s))
  }

  if (live.length) {
    // Sagas whose last step was recorded by an earlier run that stopped before marking them COMPLETED.
    const unmarked = live.filter((s) => !finished.has(s.item.sagaId))
    const superseded = await store.statusMany(
      unmarked.map((s) => s.record),
      'COMPLETED',
    )
    for (const s of live)
      outcome.set(
        s.item.sagaId,
        superseded.has(s.item.sagaId)
          ? rejected(new SagaSuperseded(s.item.sagaId))
          : fulfilled({ ...s.record, status: 'COMPLETED' as const }),
      )
  }
  await Promise.all(aside)
  return outcome
}
