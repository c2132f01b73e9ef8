import type { Env } from './env.ts'
import { apiError } from './http-error.ts'

/** Longest the edge waits for core before answering 503. */
export const CORE_TIMEOUT_MS = 10_000

/**
 * Calls core at `path` (starting with `/`). A network failure or timeout becomes 503 `unavailable`;
 * any HTTP answer, error statuses included, is returned to the caller as is.
 */
export async function callCore(env: Env, path: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(`${env.CORE_URL}${path}`, { ...init, signal: AbortSignal.timeout(CORE_TIMEOUT_MS) })
  } catch (err) {
    console.warn(`core unreachable: ${init.method ?? 'GET'} ${path}: ${String(err)}`)
    throw apiError('unavailable', 'the sale service is unavailable, try again shortly')
  }
}

/** Core's status and body, unchanged; only the content-type header is carried over. */
export function passThrough(res: Response): Response {
  return new Response(res.body, {
    status: res.status,
    headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
  })
}
