import { setTimeout as sleep } from 'node:timers/promises'
import { untilConfirmed, type Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'worker-kill-9',
  fault: async (ctx) => {
    await untilConfirmed(ctx, 0.25)
    const pending = (await ctx.db.query(`SELECT count(*)::int AS n FROM sagas WHERE status = 'RUNNING'`)).rows[0].n
    ctx.worker.kill9()
    ctx.notes.push(`killed worker with ${pending} sagas running`)
    await sleep(1000)
    await ctx.worker.start()
    return Date.now()
  },
}
