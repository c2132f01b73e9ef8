import { setTimeout as sleep } from 'node:timers/promises'
import { untilConfirmed, type Drill } from '../drill.ts'

/**
 * Core's API and worker frozen (SIGSTOP) for 12 s mid-sale, through the real edge: redeems the edge received
 * in time reach core after the edge gave up on them, shoppers retry with the same key, grants lapse meanwhile.
 * Every shopper whose order confirmed must end up told so.
 */
export const drill: Drill = {
  name: 'core-frozen-12s',
  through: 'edge',
  fault: async (ctx) => {
    await untilConfirmed(ctx, 0.25)
    ctx.api.freeze()
    ctx.worker.freeze()
    ctx.notes.push(`core frozen at ${new Date().toISOString().slice(11, 23)}`)
    await sleep(12_000)
    ctx.api.thaw()
    ctx.worker.thaw()
    return Date.now()
  },
}
