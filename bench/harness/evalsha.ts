/**
 * The raw ceiling: `redis-benchmark` calling EVALSHA of core's own redeem script (redeemToken-8.lua,
 * loaded with SCRIPT LOAD), every call a fresh token, shopper, idempotency key and order id, against a
 * stock counter that never runs out. No HTTP, no signatures, no queue: what Redis alone can do.
 */
import { spawn } from 'node:child_process'
import type { Redis } from 'ioredis'
import { redeemTokenArgs, Scripts } from '../../core/redis/scripts.ts'
import { saleKeys } from '../../core/redis/keys.ts'

export interface EvalshaResult {
  perSec: number
  p50Ms: number | null
  p99Ms: number | null
  clients: number
  requests: number
  command: string
}

/** Parses `redis-benchmark --csv` output: the last data row's rps, and p50/p99 when the version prints them. */
export function parseRedisBenchmarkCsv(csv: string): { perSec: number; p50Ms: number | null; p99Ms: number | null } {
  const lines = csv
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('"'))
  const header = lines
    .find((l) => l.startsWith('"test"'))
    ?.split(',')
    .map((h) => h.replace(/"/g, ''))
  const row = lines.filter((l) => !l.startsWith('"test"')).at(-1)
  if (!row) throw new Error(`no result in redis-benchmark output: ${csv.slice(0, 300)}`)
  const cells = row.split(',').map((c) => c.replace(/"/g, ''))
  const col = (name: string) => {
    const i = header?.indexOf(name) ?? -1
    return i >= 0 && cells[i] !== undefined ? Number(cells[i]) : null
  }
  return { perSec: col('rps') ?? Number(cells[1]), p50Ms: col('p50_latency_ms'), p99Ms: col('p99_latency_ms') }
}

export async function evalshaCeiling(
  redis: Redis,
  {
    host,
    port,
    prefix,
    clients = 50,
    requests = 200_000,
  }: { host: string; port: number; prefix: string; clients?: number; requests?: number },
): Promise<EvalshaResult> {
  const saleId = 'evalsha-ceiling'
  const k = saleKeys(prefix, saleId)
  await redis.hset(k.meta, 'limit', 1, 'holdTtlMs', 300_000)
  await redis.set(k.stock, 1_000_000_000)
  const sha = (await redis.script('LOAD', Scripts.source('redeemToken'))) as string
  // redis-benchmark replaces each __rand_int__ with a random 12-digit number (-r): a fresh token,
  // shopper, key and order on (almost) every call, so every call takes the full "new hold" path.
  const call = redeemTokenArgs(k, {
    tid: 'tok___rand_int__',
    gen: 1,
    shopper: 'shp___rand_int__',
    idempotencyKey: 'key___rand_int__',
    orderId: 'ord___rand_int__',
    nowMs: 1,
    grantExpiresAtMs: 99_999_999_999_999,
  })
  const args = ['EVALSHA', sha, String(Scripts.keyCount('redeemToken')), ...call.map(String)]
  const cli = [
    '-h',
    host,
    '-p',
    String(port),
    '-c',
    String(clients),
    '-n',
    String(requests),
    '-r',
    '100000000',
    '--csv',
    ...args,
  ]
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('redis-benchmark', cli, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (out += c))
    child.once('error', (err) =>
      reject(new Error(`cannot run redis-benchmark (installed with redis-server): ${err.message}`)),
    )
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`redis-benchmark exited ${code}: ${out.slice(-500)}`)),
    )
  })
  // Every call must have taken a unit: otherwise the number would be the cheap "refused" path.
  const taken = 1_000_000_000 - Number(await redis.get(k.stock))
  if (taken < requests * 0.99) throw new Error(`EVALSHA ceiling: only ${taken} of ${requests} calls held a unit`)
  return {
    ...parseRedisBenchmarkCsv(output),
    clients,
    requests,
    command: `redis-benchmark ${cli.slice(0, 10).join(' ')} --csv EVALSHA <sha> 7 <keys> <args>`,
  }
}
