import { killMidSale, type Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'worker-kill-9',
  fault: (ctx) => killMidSale(ctx, [ctx.worker], (pending) => `killed worker with ${pending} sagas running`),
}
