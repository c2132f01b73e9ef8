/**
 * A small HTTP load generator on undici: a closed loop (N callers back to back, "how fast can it go")
 * and an open loop (a fixed arrival rate, "how long does a request take at this rate").
 *
 * The open loop measures latency from each request's INTENDED start, not from when a free connection
 * picked it up, so a stalled server shows up in the percentiles instead of silently slowing the
 * generator down (coordinated omission).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { BalancedPool, Pool } from 'undici'
import { Latencies, type LatencySummary } from './stats.ts'

export interface BenchRequest {
  method: 'GET' | 'POST'
  path: string
  headers: Record<string, string>
  body?: string
}

export interface LoadResult {
  /** Requests completed (any status) per second of the phase. */
  perSec: number
  /** Requests answered with an expected status per second. */
  okPerSec: number
  sent: number
  ok: number
  /** Status code → count, plus `error` for transport failures. */
  statuses: Record<string, number>
  seconds: number
  latency: LatencySummary
  /** Open loop only: latency from the moment the request was due, including any wait for a connection. */
  latencyFromIntended?: LatencySummary
  /** Open loop only: requests that were due but never sent because the phase ended. */
  behind?: number
}

export interface LoadOptions {
  /** Source of requests; returns undefined when it has run out (the phase then ends early). */
  next: () => BenchRequest | undefined
  /** Statuses counted as success. Default: 2xx. */
  okStatus?: (status: number) => boolean
  durationMs: number
}

/** Keep-alive connections to one server, or spread over several (N API processes behind a load balancer). */
export function createPool(origin: string | string[], connections: number): Pool | BalancedPool {
  const options = { pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 }
  if (typeof origin === 'string' || origin.length === 1)
    return new Pool(typeof origin === 'string' ? origin : origin[0]!, { connections, ...options })
  return new BalancedPool(origin, { connections: Math.ceil(connections / origin.length), ...options })
}

const is2xx = (status: number) => status >= 200 && status < 300

async function send(pool: Pool | BalancedPool, req: BenchRequest): Promise<number> {
  const res = await pool.request({ method: req.method, path: req.path, headers: req.headers, body: req.body })
  await res.body.dump()
  return res.statusCode
}

/** `concurrency` callers, each sending its next request as soon as the previous one is answered. */
export async function closedLoop(
  pool: Pool | BalancedPool,
  { next, okStatus = is2xx, durationMs, concurrency }: LoadOptions & { concurrency: number },
): Promise<LoadResult> {
  const latencies = new Latencies()
  const statuses: Record<string, number> = {}
  let ok = 0
  const started = performance.now()
  const deadline = started + durationMs
  const caller = async () => {
    for (;;) {
      if (performance.now() >= deadline) return
      const req = next()
      if (!req) return
      const t0 = performance.now()
      let status: number | 'error'
      try {
        status = await send(pool, req)
      } catch {
        status = 'error'
      }
      latencies.add(performance.now() - t0)
      statuses[status] = (statuses[status] ?? 0) + 1
      if (status !== 'error' && okStatus(status)) ok++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, caller))
  const seconds = (performance.now() - started) / 1000
  return {
    perSec: latencies.length / seconds,
    okPerSec: ok / seconds,
    sent: latencies.length,
    ok,
    statuses,
    seconds,
    latency: latencies.summary(),
  }
}

/** Starts `rate` requests per second, whatever the answers do, for `durationMs`; then waits for the stragglers. */
export async function openLoop(
  pool: Pool | BalancedPool,
  { next, okStatus = is2xx, durationMs, rate }: LoadOptions & { rate: number },
): Promise<LoadResult> {
  const service = new Latencies()
  const fromIntended = new Latencies()
  const statuses: Record<string, number> = {}
  const inflight = new Set<Promise<void>>()
  let ok = 0
  let sent = 0
  let exhausted = false
  const started = performance.now()
  const intervalMs = 1000 / rate
  const total = Math.floor((durationMs / 1000) * rate)

  const fire = (intended: number, req: BenchRequest) => {
    const t0 = performance.now()
    const p = send(pool, req)
      .then(
        (status) => status,
        () => 'error' as const,
      )
      .then((status) => {
        const t1 = performance.now()
        service.add(t1 - t0)
        fromIntended.add(t1 - intended)
        statuses[status] = (statuses[status] ?? 0) + 1
        if (status !== 'error' && okStatus(status)) ok++
        inflight.delete(p)
      })
    inflight.add(p)
  }

  while (sent < total && !exhausted) {
    const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1)
    while (sent < due) {
      const req = next()
      if (!req) {
        exhausted = true
        break
      }
      fire(started + sent * intervalMs, req)
      sent++
    }
    // ~1 ms ticks: at 5,000/s that is 5 requests per tick, each stamped with its own due time.
    await sleep(1)
  }
  const issuedFor = (performance.now() - started) / 1000
  await Promise.all(inflight)
  const seconds = (performance.now() - started) / 1000
  return {
    perSec: sent / issuedFor,
    okPerSec: ok / seconds,
    sent,
    ok,
    statuses,
    seconds,
    latency: service.summary(),
    latencyFromIntended: fromIntended.summary(),
    behind: total - sent,
  }
}
