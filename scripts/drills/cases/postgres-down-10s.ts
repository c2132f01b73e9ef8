import { setTimeout as sleep } from 'node:timers/promises'
import { untilConfirmed, type Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'postgres-down-10s',
  fault: async (ctx) => {
    await untilConfirmed(ctx, 0.25)
    ctx.postgres.stop()
    await sleep(10_000)
    ctx.postgres.start()
    ctx.notes.push('postgres unreachable 10 s')
    return Date.now()
  },
}
