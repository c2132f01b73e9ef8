import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freezePoint, type FreezePoint } from '../../test/support/freeze.ts'
import { migratedDatabase, uniqueName } from '../../test/support/services.ts'
import { runSagaBatch } from './saga-batch.ts'
import { SagaBatcher } from './saga-batcher.ts'
import {
  PermanentFailure,
  SagaStore,
  SuspendSaga,
  defineStep,
  fulfilled,
  rejected,
  SagaSuperseded,
  runSaga,
  stepResult,
  type SagaDefinition,
} from './saga.ts'

let db: pg.Pool
let store: SagaStore
let drop: () => Promise<void>

beforeAll(async () => {
  ;({ db, drop } = await migratedDatabase('fg_sagab_'))
  store = new SagaStore(db)
})
afterAll(async () => {
  await drop?.()
})

interface Input {
  n: number
}
/** Per saga number: where it fails and how. */
type Plan = Record<number, { at: string; how: 'permanent' | 'crash' | 'suspend' }>
interface Deps {
  plan: Plan
  calls: string[]
  /** invokeMany calls per step: the batch must call each step once for all its sagas. */
  batches: Record<string, number>
  /** Stop inside this step's batch call until thawed (a process frozen mid-batch). */
  pause?: { at: string; point: FreezePoint }
}

function outcomeOf(id: string, input: Input, deps: Deps) {
  const fail = deps.plan[input.n]
  deps.calls.push(`do:${id}:${input.n}`)
  if (fail?.at === id) {
    if (fail.how === 'permanent') throw new PermanentFailure(`${id} refused ${input.n}`)
    if (fail.how === 'suspend') throw new SuspendSaga(`${id} waits ${input.n}`)
    throw new Error(`${id} crashed ${input.n}`)
  }
  return stepResult({ from: id, n: input.n }, { undoOf: id, n: input.n })
}

function batchSaga(): SagaDefinition<Input, Deps> {
  const step = (id: string) =>
    defineStep(
      id,
      async (input: Input, { deps }: { deps: Deps }) => outcomeOf(id, input, deps),
      async (undo: { undoOf: string; n: number } | undefined, deps: Deps, failure) => {
        if (undo) deps.calls.push(`undo:${undo.undoOf}:${undo.n}:${failure}`)
      },
      async (items, deps: Deps) => {
        deps.batches[id] = (deps.batches[id] ?? 0) + 1
        if (deps.pause?.at === id) await deps.pause.point.freeze()
        return items.map((item) => {
          try {
            return fulfilled(outcomeOf(id, item.input, deps))
          } catch (error) {
            return rejected(error)
          }
        })
      },
    )
  return { id: 'batch-test', steps: [step('a'), step('b'), step('c'), step('d')], pivot: 'c' }
}

/** Each saga of `tag` as [its number, status, the steps it completed], in id order. */
async function sagaRows(tag: string): Promise<string[][]> {
  const { rows } = await db.query<{ id: string; status: string; steps: string[] }>(
    `SELECT id, status, ARRAY(SELECT e->>'step' FROM jsonb_array_elements(completed_steps) e) AS steps FROM sagas WHERE id LIKE $1 ORDER BY id`,
    [`${tag}-%`],
  )
  return rows.map((r) => [r.id.slice(tag.length + 1), r.status, r.steps.join('')])
}

const items = (tag: string, ns: number[]) => ns.map((n) => ({ sagaId: `${tag}-${n}`, input: { n } }))

describe('when a batch of sagas runs and some fail in different ways', () => {
  it('should end each saga as runSaga would, calling every step once per batch', async () => {
    const tag = uniqueName('mix')
    const deps: Deps = {
      plan: {
        2: { at: 'b', how: 'permanent' },
        3: { at: 'c', how: 'crash' },
        4: { at: 'd', how: 'permanent' },
        5: { at: 'a', how: 'suspend' },
      },
      calls: [],
      batches: {},
    }
    const outcome = await runSagaBatch(batchSaga(), store, items(tag, [1, 2, 3, 4, 5, 6, 1]), deps)

    const status = (n: number) => {
      const o = outcome.get(`${tag}-${n}`)!
      return o.status === 'fulfilled' ? o.value.status : `rejected:${(o.reason as Error).message}`
    }
    expect([1, 2, 3, 4, 5, 6].map(status)).toEqual([
      'COMPLETED',
      'COMPENSATED',
      'rejected:c crashed 3',
      // past the pivot a permanent failure is not compensated: the job retries it
      'rejected:d refused 4',
      'SUSPENDED',
      'COMPLETED',
    ])
    expect(deps.batches).toEqual({ a: 1, b: 1, c: 1, d: 1 })
    // saga 1 was submitted twice and ran once
    expect(deps.calls.filter((c) => c.endsWith(':1'))).toEqual(['do:a:1', 'do:b:1', 'do:c:1', 'do:d:1'])
    // saga 2 undid only a, which it completed, and b failed
    expect(deps.calls.filter((c) => c.startsWith('undo:'))).toEqual(['undo:a:2:b refused 2'])

    expect(await sagaRows(tag)).toEqual([
      ['1', 'COMPLETED', 'abcd'],
      ['2', 'COMPENSATED', 'a'],
      ['3', 'RUNNING', 'ab'],
      ['4', 'RUNNING', 'abc'],
      ['5', 'SUSPENDED', ''],
      ['6', 'COMPLETED', 'abcd'],
    ])
    const log = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM saga_history WHERE saga_id LIKE $1 AND outcome = 'completed' AND at IS NOT NULL`,
      [`${tag}-%`],
    )
    expect(log.rows[0]!.n).toBe(4 + 1 + 2 + 3 + 0 + 4)
  })
})

describe('when a batch re-runs sagas that stopped half way', () => {
  it('should resume each at its own next step and not repeat completed ones', async () => {
    const tag = uniqueName('resume')
    const first: Deps = { plan: { 1: { at: 'b', how: 'crash' }, 2: { at: 'c', how: 'crash' } }, calls: [], batches: {} }
    await runSagaBatch(batchSaga(), store, items(tag, [1, 2, 3]), first)
    // saga 4 ran alone before, up to a crash in d: the batch must take it as it is
    await expect(
      runSaga(
        batchSaga(),
        store,
        `${tag}-4`,
        { n: 4 },
        { plan: { 4: { at: 'd', how: 'crash' } }, calls: [], batches: {} },
      ),
    ).rejects.toThrow()

    const again: Deps = { plan: {}, calls: [], batches: {} }
    const outcome = await runSagaBatch(batchSaga(), store, items(tag, [1, 2, 3, 4]), again)
    expect([...outcome.values()].map((o) => o.status === 'fulfilled' && o.value.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
    ])
    expect(again.calls.sort()).toEqual(['do:b:1', 'do:c:1', 'do:c:2', 'do:d:1', 'do:d:2', 'do:d:4'].sort())
  })
})

describe('when sagas are submitted one by one to a batcher', () => {
  it('should gather them into batches of at most maxBatch and answer each submitter with its own saga', async () => {
    const tag = uniqueName('batcher')
    const deps: Deps = { plan: { 7: { at: 'a', how: 'permanent' } }, calls: [], batches: {} }
    const sizes: number[] = []
    const batcher = new SagaBatcher<Input>(
      (batch) => {
        sizes.push(batch.length)
        return runSagaBatch(batchSaga(), store, batch, deps)
      },
      { maxBatch: 8, lingerMs: 20 },
    )
    const records = await Promise.all(Array.from({ length: 20 }, (_, n) => batcher.submit(`${tag}-${n}`, { n })))
    expect(sizes).toEqual([8, 8, 4])
    expect(records.map((r) => r.status)).toEqual(
      Array.from({ length: 20 }, (_, n) => (n === 7 ? 'COMPENSATED' : 'COMPLETED')),
    )
    expect(records.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, n) => `${tag}-${n}`))
  })
})

describe('when a batch stalls mid-step and another run completes one of its sagas meanwhile', () => {
  it('should drop that saga from the batch as superseded, undoing nothing, and finish the others', async () => {
    const tag = uniqueName('overtaken')
    const point = freezePoint()
    // Saga 2's b fails in the stalled batch: its hold was sold by the run that overtook it.
    const stalledDeps: Deps = {
      plan: { 2: { at: 'b', how: 'permanent' } },
      calls: [],
      batches: {},
      pause: { at: 'b', point },
    }
    const stalled = runSagaBatch(batchSaga(), store, items(tag, [1, 2, 3]), stalledDeps)
    await point.frozen
    const other: Deps = { plan: {}, calls: [], batches: {} }
    for (const n of [1, 2])
      expect((await runSaga(batchSaga(), store, `${tag}-${n}`, { n }, other)).status).toBe('COMPLETED')
    point.thaw()
    const outcome = await stalled

    const status = (n: number) => {
      const o = outcome.get(`${tag}-${n}`)!
      return o.status === 'fulfilled' ? o.value.status : (o.reason as Error).name
    }
    expect([1, 2, 3].map(status)).toEqual(['SagaSuperseded', 'SagaSuperseded', 'COMPLETED'])
    expect(stalledDeps.calls.filter((c) => c.startsWith('undo:'))).toEqual([])
    expect(stalledDeps.calls.filter((c) => !c.endsWith(':3'))).toEqual(['do:a:1', 'do:a:2', 'do:b:1', 'do:b:2'])
    expect(await sagaRows(tag)).toEqual([
      ['1', 'COMPLETED', 'abcd'],
      ['2', 'COMPLETED', 'abcd'],
      ['3', 'COMPLETED', 'abcd'],
    ])
    const logged = await db.query('SELECT count(*)::int AS n FROM saga_step_log WHERE saga_id LIKE $1', [`${tag}-%`])
    expect(logged.rows[0].n).toBe(0)
  })
})
