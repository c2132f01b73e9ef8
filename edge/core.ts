import { EDGE_CORE_TIMEOUT_MS, HEADER_EDGE_RECEIPT, signEdgeReceipt } from '../contracts/index.ts'
import type { Env } from './env.ts'
import { apiError } from './http-error.ts'

/** Longest the edge waits for core before answering 503 (the receipt window core honours is the same). */
export const CORE_TIMEOUT_MS = EDGE_CORE_TIMEOUT_MS
/** Tries of a call that is safe to repeat, when the connection breaks before any answer. */
const MAX_TRIES = 3

export interface CoreCallOptions {
  method?: string
  headers?: Record<string, string>
  /** A string body, so that a retry can send it again. */
  body?: string
  /**
   * The call is safe to repeat (a GET, or a POST carrying the shopper's Idempotency-Key): a connection that
   * breaks before core answered is tried again, within the same deadline.
   */
  retry?: boolean
  /**
   * The edge's receipt signed into the call: when the shopper's request reached the edge (`at`), bound to the
   * shopper and Idempotency-Key. It authenticates the edge to core, and core judges a redeem's grant at that
   * time (contracts/edge-receipt.ts). Default: now, no shopper, no key.
   */
  receipt?: { at: number; sub: string; idk: string }
  /** Give up sooner than CORE_TIMEOUT_MS (calls whose answer is only nice to have). */
  timeoutMs?: number
  /** Core holds this call on purpose this long (a long-poll): the deadline grows by it. */
  holdMs?: number
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** How long core took to answer each response callCore returned (for `Server-Timing: core`). */
const coreMs = new WeakMap<Response, number>()

/**
 * Calls core at `path` (starting with `/`). Any HTTP answer, error statuses included, is returned as is; a
 * network failure or timeout becomes 503 `unavailable`. The deadline counts from the receipt when there is
 * one, so retries never outlast the window core honours.
 */
export async function callCore(env: Env, path: string, options: CoreCallOptions = {}): Promise<Response> {
  const method = options.method ?? 'GET'
  const started = options.receipt?.at ?? Date.now()
  const deadline = started + Math.min(options.timeoutMs ?? CORE_TIMEOUT_MS, CORE_TIMEOUT_MS) + (options.holdMs ?? 0)
  const { at, sub, idk } = options.receipt ?? { at: started, sub: '', idk: '' }
  // The path as it goes on the wire (percent-encoded as fetch will send it): core compares it with what it got.
  const wirePath = new URL(path, 'http://core.invalid').pathname
  const receipt = await signEdgeReceipt({ at, req: `${method} ${wirePath}`, sub, idk }, env.CORE_INTERNAL_TOKEN)
  const headers: Record<string, string> = { ...options.headers, [HEADER_EDGE_RECEIPT]: receipt }
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now()
    try {
      if (left <= 0) throw new DOMException('deadline passed before the call', 'TimeoutError')
      const asked = performance.now()
      const res = await fetch(`${env.CORE_URL}${path}`, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: options.body }),
        signal: AbortSignal.timeout(left),
      })
      coreMs.set(res, performance.now() - asked)
      return res
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError' || Date.now() >= deadline
      const backoff = 50 * 2 ** attempt
      if (!options.retry || timedOut || attempt >= MAX_TRIES || Date.now() + backoff >= deadline) {
        console.warn(`core unreachable: ${method} ${path} (try ${attempt}): ${String(err)}`)
        throw apiError('unavailable', 'the sale service is unavailable, try again shortly', undefined, {
          'retry-after': '1',
        })
      }
      await pause(backoff)
    }
  }
}

/** Core's status and body, unchanged; the content-type header is carried over, and how long core took. */
export function passThrough(res: Response): Response {
  const headers: Record<string, string> = { 'content-type': res.headers.get('content-type') ?? 'application/json' }
  const ms = coreMs.get(res)
  if (ms !== undefined) headers['server-timing'] = `core;dur=${Math.round(ms * 10) / 10}`
  return new Response(res.body, { status: res.status, headers })
}

/**
 * Reads an answer the caller has no use for to its end: workerd only reuses a connection to core whose last
 * response body was read in full, so an unread one costs core a new connection per call.
 */
export async function discard(res: Response): Promise<void> {
  await res.arrayBuffer().catch(() => {})
}
