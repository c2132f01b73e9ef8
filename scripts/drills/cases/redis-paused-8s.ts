import { setTimeout as sleep } from 'node:timers/promises'
import { untilConfirmed, type Drill } from '../drill.ts'

/**
 * Every Redis client paused for 8 s (`CLIENT PAUSE 8000 ALL`) mid-sale, through the real edge: redeem scripts,
 * BullMQ and the sweep all wait; the edge gives up on core after its timeout and shoppers retry.
 */
export const drill: Drill = {
  name: 'redis-paused-8s',
  through: 'edge',
  fault: async (ctx) => {
    await untilConfirmed(ctx, 0.25)
    await ctx.redis.pause(8_000)
    ctx.notes.push(`redis paused at ${new Date().toISOString().slice(11, 23)}`)
    await sleep(8_000)
    return Date.now()
  },
}
