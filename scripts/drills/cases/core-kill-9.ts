import { setTimeout as sleep } from 'node:timers/promises'
import { untilConfirmed, type Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'core-kill-9',
  fault: async (ctx) => {
    await untilConfirmed(ctx, 0.25)
    const pending = (await ctx.db.query(`SELECT count(*)::int AS n FROM sagas WHERE status = 'RUNNING'`)).rows[0].n
    ctx.api.kill9()
    ctx.worker.kill9()
    ctx.notes.push(`killed api + worker with ${pending} sagas running at ${new Date().toISOString().slice(11, 23)}`)
    await sleep(1000)
    await Promise.all([ctx.api.start(), ctx.worker.start()])
    return Date.now()
  },
}
