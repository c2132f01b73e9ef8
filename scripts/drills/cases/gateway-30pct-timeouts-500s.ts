import { untilConfirmed, type Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'gateway-30pct-timeouts-500s',
  before: (ctx) => {
    ctx.fake.faults = { errorRate: 0.15, lostRate: 0.15, hangMs: 1500 }
  },
  fault: async (ctx) => {
    await untilConfirmed(ctx, 0.9)
    const faulty = ctx.fake.requests.filter((r) => r.fault !== 'none').length
    ctx.fake.faults = {}
    ctx.notes.push(
      `${faulty}/${ctx.fake.requests.filter((r) => r.method === 'POST').length} gateway calls failed or lost`,
    )
    return Date.now()
  },
}
