/**
 * The benchmark harness checked at tiny scale: its parts (percentiles, the load generator, the
 * synchronous signers, redis-benchmark parsing, the report) and one complete `npm run bench -- --quick
 * --json` run whose last line must be the JSON object issue 5 specifies. Speed is never asserted here:
 * targets are reported by the bench, not tested.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shopperOf, signEdgeReceipt, signGrant, signPurchaseToken } from '../../contracts/index.ts'
import { parseRedisBenchmarkCsv } from './evalsha.ts'
import { closedLoop, createPool, openLoop } from './load.ts'
import { shopperOfSync, signEdgeReceiptSync, signGrantSync, signPurchaseTokenSync } from './pairs.ts'
import { checkTargets, formatReport, REQUIRED_JSON_KEYS, type BenchNumbers } from './report.ts'
import { percentileOf, summarize } from './stats.ts'

describe('stats', () => {
  it('should take nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentileOf(sorted, 50)).toBe(50)
    expect(percentileOf(sorted, 99)).toBe(99)
    expect(percentileOf(sorted, 100)).toBe(100)
    expect(percentileOf([], 99)).toBe(0)
    expect(summarize([1, 2, 3, 10])).toMatchObject({ count: 4, p50: 2, max: 10, mean: 4 })
  })
})

describe('synchronous signers', () => {
  it('should produce the same bytes as the Web Crypto ones in contracts', async () => {
    const secret = 'same-bytes-secret-0123456789abcdef0123'
    const payload = { sale: 'drop-1', tid: 'tok_abcdefghijklmnop', iat: 1_800_000_000 }
    expect(signPurchaseTokenSync(payload, secret)).toBe(await signPurchaseToken(payload, secret))
    const shopper = await shopperOf('session-abcdefghijklmnop')
    expect(shopperOfSync('session-abcdefghijklmnop')).toBe(shopper)
    const grant = {
      sale: 'drop-1',
      tid: 'tok_abcdefghijklmnop',
      gen: 2,
      sub: shopper,
      iat: 1_800_000_000,
      exp: 1_800_000_060_000,
    }
    expect(signGrantSync(grant, secret)).toBe(await signGrant(grant, secret))
    const receipt = { at: 1_800_000_000_000, req: 'POST /v1/redeem', sub: shopper, idk: 'bench-key-0001' }
    expect(signEdgeReceiptSync(receipt, secret)).toBe(await signEdgeReceipt(receipt, secret))
  })
})

describe('redis-benchmark output', () => {
  it('should read rps and percentiles from --csv', () => {
    const csv =
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n' +
      '"EVALSHA abc 7 k1","87412.59","0.5","0.1","0.479","0.9","1.2","3.0"\n'
    expect(parseRedisBenchmarkCsv(csv)).toEqual({ perSec: 87412.59, p50Ms: 0.479, p99Ms: 1.2 })
  })
})

describe('load generator', () => {
  let server: Server
  let origin = ''
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume()
      req.on('end', () => res.writeHead(req.url === '/fail' ? 409 : 202).end('{}'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('should run a closed loop until the requests run out and count statuses', async () => {
    const pool = createPool(origin, 4)
    let n = 0
    const result = await closedLoop(pool, {
      next: () =>
        n < 50 ? { method: 'POST', path: n++ % 5 === 0 ? '/fail' : '/ok', headers: {}, body: '{}' } : undefined,
      okStatus: (s) => s === 202,
      durationMs: 10_000,
      concurrency: 4,
    })
    await pool.close()
    expect(result.sent).toBe(50)
    expect(result.statuses).toEqual({ 202: 40, 409: 10 })
    expect(result.ok).toBe(40)
    expect(result.latency.count).toBe(50)
  })

  it('should hold a fixed arrival rate and measure from each request’s due time', async () => {
    const pool = createPool(origin, 4)
    const result = await openLoop(pool, {
      next: () => ({ method: 'GET', path: '/ok', headers: {} }),
      durationMs: 500,
      rate: 200,
    })
    await pool.close()
    expect(result.sent).toBe(100)
    expect(result.behind).toBe(0)
    expect(result.latencyFromIntended!.p50).toBeGreaterThanOrEqual(result.latency.p50 - 1)
  })
})

describe('report', () => {
  const numbers: BenchNumbers = {
    redeemPerSec: 12_000,
    redeemP50Ms: 4,
    redeemP99Ms: 20,
    redeemRateTarget: 5000,
    redeemAchievedRate: 5000,
    redeemP50MsAt5k: 2,
    redeemP99MsAt5k: 9,
    rowLockPerSec: 400,
    rowLockP99Ms: 300,
    redisLockPerSec: 300,
    redisLockP99Ms: 900,
    evalshaPerSec: 40_000,
    settledPerSec: 2500,
    coreRssMb: 200,
    coreApiRssMb: 200,
    coreWorkerRssMb: 150,
    coreApiCpu: 1,
    coreWorkerCpu: 1,
    loadGeneratorCpu: 0.3,
    redeemCoreCpuUs: 80,
    redeemRedisCpuUs: 30,
    settleWorkerCpuMs: 0.4,
    settlePostgresCpuMs: 0.4,
    invariantOk: true,
    oversold: 0,
    duplicateOrders: 0,
  }

  it('should check every target of issue 5', () => {
    const targets = checkTargets(numbers)
    expect(targets.map((t) => t.met)).toEqual([true, true, true, true, true, true, true, true])
    expect(checkTargets({ ...numbers, redeemP99MsAt5k: 30 })[1]!.met).toBe(false)
    expect(checkTargets({ ...numbers, redeemAchievedRate: 3000 })[1]!.met).toBe(false)
    expect(checkTargets({ ...numbers, oversold: 1 })[7]!.met).toBe(false)
  })

  it('should print the table with ratios', () => {
    const text = formatReport(numbers)
    expect(text).toContain('Postgres SELECT ... FOR UPDATE')
    expect(text).toContain('30x')
    expect(text).toContain('40x')
    expect(text).toContain('30% of it')
    expect(text).toContain('~12,500/s')
  })
})

describe('npm run bench -- --quick --json', () => {
  it('should run every phase at tiny scale and end with the JSON object', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'bench/harness/main.ts', '--quick', '--json'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let stdout = ''
        let stderr = ''
        child.stdout.on('data', (c) => (stdout += c))
        child.stderr.on('data', (c) => (stderr += c))
        child.once('exit', (code) => resolve({ code, stdout, stderr }))
      },
    )
    expect(code, stderr.slice(-2000)).toBe(0)
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!)
    for (const key of REQUIRED_JSON_KEYS) expect(typeof last[key], key).toBe('number')
    expect(last.redeemPerSec).toBeGreaterThan(0)
    expect(last.rowLockPerSec).toBeGreaterThan(0)
    expect(last.redisLockPerSec).toBeGreaterThan(0)
    // The ceiling needs the redis-benchmark binary (it ships with redis-server); without it the phase is skipped.
    if (spawnSync('sh', ['-c', 'command -v redis-benchmark']).status === 0)
      expect(last.evalshaPerSec).toBeGreaterThan(0)
    expect(last.settledPerSec).toBeGreaterThan(0)
    expect(last.coreRssMb).toBeGreaterThan(0)
    expect(last).toMatchObject({ invariantOk: true, oversold: 0, duplicateOrders: 0 })
    expect(last.targets).toHaveLength(8)
    expect(Object.keys(last.cpu)).toEqual(
      expect.arrayContaining(['redeemFullSpeed', 'redeemFixedRate', 'rowLock', 'redisLock', 'settlement']),
    )
  }, 180_000)
})
