import { randomId, shopperOf, signGrant, signPurchaseToken } from '../../../contracts/index.ts'
import { DEV, settings } from '../settings.ts'
import { http } from '../sim-sale.ts'
import type { SimSale } from '../sim-sale.ts'
import { untilConfirmed, type Drill } from '../drill.ts'

export const drill: Drill = {
  name: 'tokens-10k-forged-tampered-replayed-expired',
  fault: async (ctx) => {
    await untilConfirmed(ctx, 0.1)
    const kinds = ['forged', 'tampered', 'replayed', 'expired', 'wrong-sale'] as const
    const accepted: string[] = []
    const codes = new Map<string, number>()
    let n = 0
    const one = async () => {
      const kind = kinds[n++ % kinds.length]!
      const tid = `tok_drill${String(Math.floor(Math.random() * settings.stock)).padStart(12, '0')}`
      const session = `attacker${randomId(12)}`
      const sub = await shopperOf(session)
      const now = Date.now()
      let token = await signPurchaseToken({ sale: ctx.sale.saleId, tid, iat: Math.floor(now / 1000) }, DEV.TOKEN_SECRET)
      let grant = await signGrant(
        { sale: ctx.sale.saleId, tid, gen: 1, sub, iat: Math.floor(now / 1000), exp: now + 60_000 },
        DEV.GRANT_SECRET,
      )
      if (kind === 'forged')
        token = await signPurchaseToken({ sale: ctx.sale.saleId, tid, iat: Math.floor(now / 1000) }, 'y'.repeat(40))
      if (kind === 'tampered') {
        const handed = (ctx.sale as SimSale).handed.get(tid)
        if (handed) {
          // A real grant with its subject rewritten to the attacker's session, signature kept.
          const [prefix, payload, mac] = handed.grant.split('.')
          const body = JSON.parse(Buffer.from(payload!, 'base64url').toString())
          grant = `${prefix}.${Buffer.from(JSON.stringify({ ...body, sub })).toString('base64url')}.${mac}`
          token = handed.token
        }
      }
      if (kind === 'replayed') {
        const handed = (ctx.sale as SimSale).handed.get(tid)
        if (handed) ({ token, grant } = handed) // a real, used token + grant, from another session
      }
      if (kind === 'expired')
        grant = await signGrant(
          { sale: ctx.sale.saleId, tid, gen: 1, sub, iat: Math.floor(now / 1000) - 600, exp: now - 1000 },
          DEV.GRANT_SECRET,
        )
      if (kind === 'wrong-sale') {
        // A genuine token and grant, both for another sale's same token id.
        token = await signPurchaseToken({ sale: 'some-other-sale', tid, iat: Math.floor(now / 1000) }, DEV.TOKEN_SECRET)
        grant = await signGrant(
          { sale: 'some-other-sale', tid, gen: 1, sub, iat: Math.floor(now / 1000), exp: now + 60_000 },
          DEV.GRANT_SECRET,
        )
      }
      // As the edge passes any well-formed redeem on (http() signs its receipt): core's own checks are under test.
      const res = await http(`${ctx.apiUrl}/v1/redeem`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-floodgate-session': session,
          'idempotency-key': `attack-${randomId(10)}`,
        },
        body: JSON.stringify({ token, grant }),
      })
      const code = res ? (res.body?.error?.code ?? String(res.status)) : 'network'
      codes.set(`${kind}:${code}`, (codes.get(`${kind}:${code}`) ?? 0) + 1)
      if (res && res.status < 300) accepted.push(`${kind} ${tid}`)
    }
    const ATTACKS = 10_000
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        while (n < ATTACKS) await one()
      }),
    )
    const summary = [...codes.entries()]
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
    ctx.notes.push(`${ATTACKS} bad redeems, ${accepted.length} accepted; ${summary}`)
    if (accepted.length) throw new Error(`bad redeems accepted: ${accepted.slice(0, 5).join(', ')}`)
    return Date.now()
  },
}
