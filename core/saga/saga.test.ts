import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freezePoint, type FreezePoint } from '../../test/support/freeze.ts'
import { migratedDatabase, uniqueName } from '../../test/support/services.ts'
import {
  PermanentFailure,
  SagaStore,
  SagaSuperseded,
  defineStep,
  runSaga,
  stepResult,
  type SagaDefinition,
} from './saga.ts'

let db: pg.Pool
let store: SagaStore
let drop: () => Promise<void>

beforeAll(async () => {
  ;({ db, drop } = await migratedDatabase('fg_saga_'))
  store = new SagaStore(db)
})
afterAll(async () => {
  await drop?.()
})

type Calls = string[]
interface Behaviour {
  failAt?: string
  permanent?: boolean
  /** Stop inside this step until thawed (a process frozen mid-step). */
  pause?: { at: string; point: FreezePoint }
}

function testSaga(calls: Calls, behaviour: Behaviour): SagaDefinition<{ n: number }, Behaviour> {
  const step = (id: string) =>
    defineStep(
      id,
      async (input: { n: number }, { deps }: { deps: Behaviour }) => {
        calls.push(`do:${id}`)
        if (deps.pause?.at === id) await deps.pause.point.freeze()
        if (deps.failAt === id)
          throw deps.permanent ? new PermanentFailure(`${id} refused`) : new Error(`${id} crashed`)
        return stepResult({ from: id, n: input.n }, { undoOf: id })
      },
      async (undo: { undoOf: string } | undefined, _deps, failure) => {
        if (!undo) return
        calls.push(`undo:${undo.undoOf}:${failure}`)
      },
    )
  return { id: 'test', steps: [step('a'), step('b'), step('c'), step('d')], pivot: 'c' }
}

describe('when a step fails permanently before the pivot', () => {
  it('should undo every completed step once, in reverse order, and end COMPENSATED', async () => {
    const calls: Calls = []
    const behaviour = { failAt: 'c', permanent: true }
    const id = uniqueName('saga')
    const record = await runSaga(testSaga(calls, behaviour), store, id, { n: 1 }, behaviour)
    expect(record.status).toBe('COMPENSATED')
    expect(calls).toEqual(['do:a', 'do:b', 'do:c', 'undo:b:c refused', 'undo:a:c refused'])
    // running it again (a redelivered job) does nothing more
    await runSaga(testSaga(calls, behaviour), store, id, { n: 1 }, behaviour)
    expect(calls).toHaveLength(5)
  })
})

describe('when a step crashes and the job is retried', () => {
  it('should resume at the failed step without repeating completed ones', async () => {
    const calls: Calls = []
    const id = uniqueName('saga')
    const crashing = { failAt: 'b' }
    await expect(runSaga(testSaga(calls, crashing), store, id, { n: 2 }, crashing)).rejects.toThrow('b crashed')
    const record = await runSaga(testSaga(calls, {}), store, id, { n: 2 }, {})
    expect(record.status).toBe('COMPLETED')
    expect(calls).toEqual(['do:a', 'do:b', 'do:b', 'do:c', 'do:d'])
    const log = await db.query('SELECT step, outcome FROM saga_history WHERE saga_id = $1 ORDER BY at', [id])
    expect(log.rows.map((r) => `${r.step}:${r.outcome}`)).toEqual([
      'a:completed',
      'b:completed',
      'c:completed',
      'd:completed',
    ])
  })
})

describe('when a step fails permanently after the pivot', () => {
  it('should never compensate: the error surfaces for retry and the saga stays RUNNING', async () => {
    const calls: Calls = []
    const id = uniqueName('saga')
    const behaviour = { failAt: 'd', permanent: true }
    await expect(runSaga(testSaga(calls, behaviour), store, id, { n: 3 }, behaviour)).rejects.toThrow(PermanentFailure)
    expect(calls.filter((c) => c.startsWith('undo'))).toEqual([])
    const { rows } = await db.query('SELECT status FROM sagas WHERE id = $1', [id])
    expect(rows[0].status).toBe('RUNNING')
    const done = await runSaga(testSaga(calls, {}), store, id, { n: 3 }, {})
    expect(done.status).toBe('COMPLETED')
  })
})

describe('when compensation itself crashes midway', () => {
  it('should finish the remaining compensations on the next run without repeating done ones', async () => {
    const calls: Calls = []
    const id = uniqueName('saga')
    let undoCrashes = 1
    const saga = testSaga(calls, { failAt: 'c', permanent: true })
    const original = saga.steps[0]!.compensate!
    saga.steps[0]!.compensate = async (undo, deps, failure) => {
      if (undoCrashes-- > 0) throw new Error('undo of a crashed')
      return original(undo, deps, failure)
    }
    await expect(runSaga(saga, store, id, { n: 4 }, { failAt: 'c', permanent: true })).rejects.toThrow(
      'undo of a crashed',
    )
    const record = await runSaga(saga, store, id, { n: 4 }, { failAt: 'c', permanent: true })
    expect(record.status).toBe('COMPENSATED')
    expect(calls).toEqual(['do:a', 'do:b', 'do:c', 'undo:b:c refused', 'undo:a:c refused'])
  })
})

describe('when a run stalls mid-step and another run of the same saga completes it meanwhile', () => {
  it.each([
    ['fails permanently (its effect was taken by the other run)', true],
    ['succeeds', false],
  ])(
    'should stop the stalled run at its next write when its step %s, undoing and repeating nothing',
    async (_, permanent) => {
      const calls: Calls = []
      const id = uniqueName('saga')
      const point = freezePoint()
      const stalledDeps: Behaviour = {
        ...(permanent ? { failAt: 'b', permanent: true } : {}),
        pause: { at: 'b', point },
      }
      const stalled = runSaga(testSaga(calls, stalledDeps), store, id, { n: 5 }, stalledDeps)
      await point.frozen
      const other = await runSaga(testSaga(calls, {}), store, id, { n: 5 }, {})
      expect(other.status).toBe('COMPLETED')
      point.thaw()
      await expect(stalled).rejects.toThrow(SagaSuperseded)

      expect(calls).toEqual(['do:a', 'do:b', 'do:b', 'do:c', 'do:d'])
      const { rows } = await db.query(
        `SELECT status, ARRAY(SELECT e->>'step' FROM jsonb_array_elements(completed_steps) e) AS steps,
         (SELECT count(*)::int FROM saga_step_log l WHERE l.saga_id = s.id) AS logged
       FROM sagas s WHERE id = $1`,
        [id],
      )
      expect(rows).toEqual([{ status: 'COMPLETED', steps: ['a', 'b', 'c', 'd'], logged: 0 }])
    },
  )
})
