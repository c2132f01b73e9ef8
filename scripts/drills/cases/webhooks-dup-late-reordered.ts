import { FakeStripe } from '../../../test/support/stripe-fake.ts'
import { WEBHOOK_SECRET } from '../settings.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import type Stripe from 'stripe'
import type { Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'webhooks-dup-late-reordered',
  fault: async (ctx) => {
    const url = `${ctx.apiUrl}/webhooks/stripe`
    let sent = 0
    const late: Stripe.Event[] = []
    const statuses = new Map<number, number>()
    const deliver = async (events: Stripe.Event[]) => {
      for (const s of await FakeStripe.deliver(url, WEBHOOK_SECRET, events)) statuses.set(s, (statuses.get(s) ?? 0) + 1)
    }
    while (!ctx.sale.done) {
      const batch = ctx.fake.events.slice(sent)
      sent += batch.length
      const shuffled = [...batch, ...batch.filter(() => Math.random() < 0.5)].sort(() => Math.random() - 0.5)
      late.push(...shuffled.filter(() => Math.random() < 0.2))
      await deliver(shuffled.filter((e) => !late.includes(e)))
      await sleep(300)
    }
    await deliver([...late, ...ctx.fake.events.slice(sent)].reverse())
    await deliver(ctx.fake.events.slice(0, 50)) // and once more, all of them duplicates now
    const forged = await FakeStripe.deliver(url, 'whsec_not_ours', ctx.fake.events.slice(0, 20))
    if (forged.some((s) => s !== 400)) throw new Error('a forged webhook was accepted')
    const processed = (await ctx.db.query('SELECT count(*)::int AS n FROM processed_events')).rows[0].n
    ctx.notes.push(
      `${ctx.fake.events.length} events, ${[...statuses.values()].reduce((a, b) => a + b, 0)} deliveries (${JSON.stringify(Object.fromEntries(statuses))}), ${processed} processed once, 20 forged refused`,
    )
    if (processed !== ctx.fake.events.length)
      throw new Error(`processed ${processed} events, expected ${ctx.fake.events.length}`)
    return Date.now()
  },
}
