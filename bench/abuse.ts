/**
 * `npm run bench:abuse -- [--rate 20] [--seconds 20] [--abuse-rate 1000] [--json]`
 *
 * One abusive client beside honest shoppers (issue 15). The local stack (core + the edge in workerd via
 * Miniflare) runs with the edge's per-network limits on, as deployed. Two runs of one sale shape each:
 *   quiet    honest shoppers only (`--rate` arrivals/s for `--seconds`, the room admitting half of that)
 *   abused   the same, plus one client sending `--abuse-rate` requests/s from one IPv6 /64 (a fresh address in
 *            it each time): half joins with made-up sessions, half status polls with made-up sessions and no
 *            ticket, the cheapest ways to make a room write or read
 * and compares the honest shoppers' join p95 and the room's admission rate. The last line with `--json` is one
 * JSON object: `quiet`, `abused` (each with joinP95Ms, admittedPerSecond, ...), `abuse` (requests sent,
 * achieved rate, answers by status), `joinP95Change`, `admissionRateChange` (abused / quiet - 1) and
 * `withinTenPercent`. Exit 1 if an invariant broke.
 *
 * The abuser runs in this process, the shoppers in their own, workerd in a third: all on this machine's cores, so
 * part of any slowdown is the abuser's own CPU, which a real attacker spends on their machine, not on the edge.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { randomId } from '../contracts/index.ts'
import { startLocalStack } from '../scripts/local-stack.ts'
import { createSale, roomStats, saleInvariant, type IssuerConfig } from '../token-issuer/issuer.ts'
import { numberOption } from './options.ts'
import { spawnCrowd } from './shoppers.ts'

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    'abuse-rate': { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  console.log('usage: npm run bench:abuse -- [--rate 20] [--seconds 20] [--abuse-rate 1000] [--json]')
  process.exit(0)
}
const num = (name: 'rate' | 'seconds' | 'abuse-rate') => numberOption(args, name, 1)
const say = (line: string) => {
  if (!args.json) console.log(line)
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits

interface Run {
  shoppers: number
  joinP50Ms: number
  joinP95Ms: number
  admittedPerSecond: number
  errors5xx: number
  gaveUp: number
  invariantOk: boolean
}

interface Abuse {
  sent: number
  achievedPerSecond: number
  byStatus: Record<string, number>
}

/** One client at `perSecond` requests/s from one /64 until `stop()`: made-up sessions, no tickets. */
function abuser(edgeUrl: string, saleId: string, perSecond: number): { stop(): Promise<Abuse> } {
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 })
  const byStatus: Record<string, number> = {}
  const inFlight = new Set<Promise<void>>()
  const started = performance.now()
  let sent = 0
  let stopped = false
  const one = async (i: number) => {
    const headers = {
      'x-floodgate-session': randomId(),
      'x-floodgate-client': 'abuser',
      'cf-connecting-ip': `2001:db8:bad:1:${randomBytes(8).toString('hex').match(/.{4}/g)!.join(':')}`,
    }
    const join = i % 2 === 0
    try {
      const res = await request(`${edgeUrl}/api/sales/${saleId}/${join ? 'join' : 'status'}`, {
        method: join ? 'POST' : 'GET',
        headers,
        dispatcher: agent,
        headersTimeout: 10_000,
      })
      await res.body.dump()
      byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1
    } catch {
      byStatus.network = (byStatus.network ?? 0) + 1
    }
  }
  // Open model in 10 ms ticks: the abuser does not slow down when the edge does.
  const timer = setInterval(() => {
    if (stopped) return
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond) - sent
    for (let k = 0; k < due; k++) {
      const p = one(sent++).finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
  }, 10)
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      const seconds = (performance.now() - started) / 1000
      await Promise.all(inFlight)
      await agent.close()
      return { sent, achievedPerSecond: round(sent / seconds), byStatus }
    },
  }
}

async function run(
  cfg: IssuerConfig,
  edgeUrl: string,
  name: string,
  abuseRate: number,
): Promise<{ run: Run; abuse?: Abuse }> {
  const rate = num('rate')
  const seconds = num('seconds')
  const saleId = `abuse-${name}-${Date.now().toString(36)}`
  await createSale(cfg, {
    saleId,
    sku: 'ABUSE-1',
    name: 'Abuse bench',
    priceCents: 1999,
    stock: Math.ceil(rate * seconds),
    tokenTtlSeconds: 60,
    holdTtlSeconds: 60,
    startsAt: new Date().toISOString(),
    // Half the arrival rate: a line builds, so the admission rate is the room's to keep, not the crowd's.
    admitPerMinute: Math.round((rate * 60) / 2),
  })
  const attack = abuseRate > 0 ? abuser(edgeUrl, saleId, abuseRate) : undefined
  const before = await roomStats(cfg, saleId)
  const startedAt = Date.now()
  const crowd = spawnCrowd({ edgeUrl, saleId, rate, seconds, declineRate: 0, maxWaitMs: 120_000 })
  // The admission rate over the arrival window (the line is never empty in it).
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const during = await roomStats(cfg, saleId)
  const windowSeconds = (Date.now() - startedAt) / 1000
  const abuse = await attack?.stop()
  const report = await crowd
  let invariant = await saleInvariant(cfg, saleId)
  const deadline = Date.now() + 30_000
  while ((invariant.redis.held > 0 || invariant.postgres.pending > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    invariant = await saleInvariant(cfg, saleId)
  }
  return {
    run: {
      shoppers: report.shoppers,
      joinP50Ms: report.joinP50Ms,
      joinP95Ms: report.joinP95Ms,
      admittedPerSecond: round((during.admitted - before.admitted) / windowSeconds, 2),
      errors5xx: report.errors5xx,
      gaveUp: report.gaveUp,
      invariantOk: invariant.ok,
    },
    ...(abuse ? { abuse } : {}),
  }
}

say('starting core and the edge (Miniflare) with the per-network limits on ...')
const stack = await startLocalStack({
  env: { SIM_PAYMENT_FAILURE_RATE: '0' },
  edge: { shopperPerNetworkPerSecond: '20' },
})
const cfg = stack.issuerConfig()
let exitCode = 0
try {
  say(`quiet: ${num('rate')} shoppers/s for ${num('seconds')} s ...`)
  const quiet = await run(cfg, stack.edgeUrl, 'quiet', 0)
  say(`  join p50/p95 ${quiet.run.joinP50Ms}/${quiet.run.joinP95Ms} ms, admitted ${quiet.run.admittedPerSecond}/s`)
  say(`abused: the same, plus one client at ${num('abuse-rate')} requests/s from one /64 ...`)
  const abused = await run(cfg, stack.edgeUrl, 'abused', num('abuse-rate'))
  say(`  join p50/p95 ${abused.run.joinP50Ms}/${abused.run.joinP95Ms} ms, admitted ${abused.run.admittedPerSecond}/s`)
  say(
    `  abuser: ${abused.abuse!.sent} requests (${abused.abuse!.achievedPerSecond}/s), answers ${JSON.stringify(abused.abuse!.byStatus)}`,
  )
  const change = (a: number, b: number) => (b > 0 ? round(a / b - 1, 3) : 0)
  const joinP95Change = change(abused.run.joinP95Ms, quiet.run.joinP95Ms)
  const admissionRateChange = change(abused.run.admittedPerSecond, quiet.run.admittedPerSecond)
  const withinTenPercent = Math.abs(joinP95Change) <= 0.1 && Math.abs(admissionRateChange) <= 0.1
  say(
    `join p95 ${joinP95Change >= 0 ? '+' : ''}${round(joinP95Change * 100)}%, admission rate ${round(admissionRateChange * 100)}%`,
  )
  if (!quiet.run.invariantOk || !abused.run.invariantOk) exitCode = 1
  if (args.json) {
    console.log(
      JSON.stringify({
        rate: num('rate'),
        seconds: num('seconds'),
        abuseRate: num('abuse-rate'),
        quiet: quiet.run,
        abused: abused.run,
        abuse: abused.abuse,
        joinP95Change,
        admissionRateChange,
        withinTenPercent,
      }),
    )
  }
} finally {
  await stack.stop()
}
process.exit(exitCode)
