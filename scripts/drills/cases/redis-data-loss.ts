import { setTimeout as sleep } from 'node:timers/promises'
import { untilConfirmed, type Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'redis-data-loss',
  fault: async (ctx) => {
    await untilConfirmed(ctx, 0.25)
    ctx.redis.kill9()
    ctx.notes.push('redis killed, restarted empty')
    await sleep(1000)
    await ctx.redis.start()
    return Date.now()
  },
}
