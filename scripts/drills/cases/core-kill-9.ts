import { killMidSale, type Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'core-kill-9',
  fault: (ctx) =>
    killMidSale(
      ctx,
      [ctx.api, ctx.worker],
      (pending) => `killed api + worker with ${pending} sagas running at ${new Date().toISOString().slice(11, 23)}`,
    ),
}
