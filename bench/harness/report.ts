/**
 * What a benchmark run reports: the JSON object (`--json` prints it as the last line), the targets
 * of issue 5 checked against it, and the printed table. Pure, so a tiny-scale test can pin the shape.
 */
import { round } from './stats.ts'

export interface BenchNumbers {
  /** Floodgate redeem (verify token + grant, Lua, enqueue), closed loop, successful redemptions/s. */
  redeemPerSec: number
  redeemP50Ms: number
  redeemP99Ms: number
  /** Same path at a fixed arrival rate (default 5,000/s), latency from each request's due time. */
  redeemRateTarget: number
  redeemAchievedRate: number
  redeemP50MsAt5k: number
  redeemP99MsAt5k: number
  /** Baselines, same HTTP stack and verification, one hot SKU. */
  rowLockPerSec: number
  rowLockP99Ms: number
  redisLockPerSec: number
  redisLockP99Ms: number
  /** redis-benchmark EVALSHA of redeemToken-8.lua. */
  evalshaPerSec: number
  /** Checkout sagas completed into Postgres per second, simulated gateway. */
  settledPerSec: number
  /** Peak RSS of the core processes during the run (API and workers are separate processes). */
  coreRssMb: number
  coreApiRssMb: number
  coreWorkerRssMb: number
  /** Core CPU, in cores, during the full-speed redeem phase and during settlement. */
  coreApiCpu: number
  coreWorkerCpu: number
  loadGeneratorCpu: number
  /**
   * CPU per operation: robust to other load on a shared box (a starved process does fewer operations
   * but each costs the same). µs of core API CPU and of Redis CPU per redemption at full speed; ms of
   * worker CPU and of Postgres CPU per settled order.
   */
  redeemCoreCpuUs: number
  redeemRedisCpuUs: number
  settleWorkerCpuMs: number
  settlePostgresCpuMs: number
  invariantOk: boolean
  oversold: number
  duplicateOrders: number
}

export interface Target {
  name: string
  goal: string
  value: string
  met: boolean
}

export function ratios(n: BenchNumbers) {
  return {
    vsRowLock: n.rowLockPerSec > 0 ? n.redeemPerSec / n.rowLockPerSec : 0,
    vsRedisLock: n.redisLockPerSec > 0 ? n.redeemPerSec / n.redisLockPerSec : 0,
    ofEvalsha: n.evalshaPerSec > 0 ? n.redeemPerSec / n.evalshaPerSec : 0,
  }
}

/** Issue 5's targets for this 2-core box. Speed targets are reported, never asserted by tests. */
export function checkTargets(n: BenchNumbers): Target[] {
  const r = ratios(n)
  const x = (v: number) => `${round(v, 1)}x`
  return [
    {
      name: 'redeem throughput',
      goal: '>= 10,000/s',
      value: `${Math.round(n.redeemPerSec)}/s`,
      met: n.redeemPerSec >= 10_000,
    },
    {
      name: `redeem p99 at ${n.redeemRateTarget}/s`,
      goal: '<= 25 ms',
      value: `${round(n.redeemP99MsAt5k)} ms`,
      met: n.redeemP99MsAt5k <= 25 && n.redeemAchievedRate >= n.redeemRateTarget * 0.98,
    },
    {
      name: 'settlement',
      goal: '>= 2,000 orders/s',
      value: `${Math.round(n.settledPerSec)}/s`,
      met: n.settledPerSec >= 2_000,
    },
    { name: 'vs Postgres row lock', goal: '>= 10x', value: x(r.vsRowLock), met: r.vsRowLock >= 10 },
    { name: 'vs Redis lock per product', goal: '>= 10x', value: x(r.vsRedisLock), met: r.vsRedisLock >= 10 },
    {
      name: 'share of EVALSHA ceiling',
      goal: '>= 25%',
      value: `${round(r.ofEvalsha * 100)}%`,
      met: r.ofEvalsha >= 0.25,
    },
    { name: 'core RSS', goal: '<= 300 MB', value: `${Math.round(n.coreRssMb)} MB`, met: n.coreRssMb <= 300 },
    {
      name: 'invariants',
      goal: 'oversold 0, duplicates 0',
      value: `oversold ${n.oversold}, duplicates ${n.duplicateOrders}`,
      met: n.invariantOk && n.oversold === 0 && n.duplicateOrders === 0,
    },
  ]
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

export function formatReport(n: BenchNumbers): string {
  const r = ratios(n)
  const f = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : String(round(v, 1)))
  const results = table([
    ['measure', 'per second', 'p50 ms', 'p99 ms', 'Floodgate is'],
    ['Floodgate redeem, full speed', f(n.redeemPerSec), f(n.redeemP50Ms), f(n.redeemP99Ms), ''],
    [
      `Floodgate redeem at ${n.redeemRateTarget}/s`,
      f(n.redeemAchievedRate),
      f(n.redeemP50MsAt5k),
      f(n.redeemP99MsAt5k),
      '',
    ],
    ['Postgres SELECT ... FOR UPDATE', f(n.rowLockPerSec), '', f(n.rowLockP99Ms), `${round(r.vsRowLock, 1)}x`],
    ['Redis lock per product', f(n.redisLockPerSec), '', f(n.redisLockP99Ms), `${round(r.vsRedisLock, 1)}x`],
    ['redis-benchmark EVALSHA ceiling', f(n.evalshaPerSec), '', '', `${round(r.ofEvalsha * 100)}% of it`],
    ['settled orders into Postgres', f(n.settledPerSec), '', '', ''],
  ])
  const resources =
    `core RSS peak: API ${Math.round(n.coreApiRssMb)} MB, workers ${Math.round(n.coreWorkerRssMb)} MB; ` +
    `CPU: core API ${round(n.coreApiCpu, 2)} cores at full speed, workers ${round(n.coreWorkerCpu, 2)} while settling, load generator ${round(n.loadGeneratorCpu, 2)}\n` +
    `CPU per operation: redeem ${Math.round(n.redeemCoreCpuUs)} µs core API + ${Math.round(n.redeemRedisCpuUs)} µs Redis ` +
    `(one API process on a core of its own: ~${n.redeemCoreCpuUs > 0 ? Math.round(1e6 / n.redeemCoreCpuUs).toLocaleString('en-US') : '-'}/s); ` +
    `settled order ${round(n.settleWorkerCpuMs, 2)} ms worker + ${round(n.settlePostgresCpuMs, 2)} ms Postgres`
  const targets = table([
    ['target', 'goal', 'measured', ''],
    ...checkTargets(n).map((t) => [t.name, t.goal, t.value, t.met ? 'met' : 'MISSED']),
  ])
  return `${results}\n\n${resources}\n\n${targets}`
}

/** Keys the `--json` line always carries (issue 5). */
export const REQUIRED_JSON_KEYS = [
  'redeemPerSec',
  'redeemP99MsAt5k',
  'rowLockPerSec',
  'redisLockPerSec',
  'evalshaPerSec',
  'settledPerSec',
  'coreRssMb',
] as const
