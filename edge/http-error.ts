import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { ERROR_CODES, errorBody, type ErrorCode } from '../contracts/index.ts'

/** JSON response in the shared error shape, with the status `ERROR_CODES` assigns to `code`. */
export function errorResponse(code: ErrorCode, message: string, field?: string, headers?: HeadersInit): Response {
  const res = Response.json(errorBody(code, message, field), { status: ERROR_CODES[code] })
  if (headers) for (const [name, value] of new Headers(headers)) res.headers.set(name, value)
  return res
}

/**
 * An `HTTPException` whose ready-made response is the shared error body. Throw it from middleware and handlers;
 * `app.onError` returns `err.getResponse()`.
 *
 * @example
 * ```ts
 * if (!key) throw apiError('missing_idempotency_key', 'send an idempotency-key header', 'idempotency-key')
 * ```
 */
export function apiError(code: ErrorCode, message: string, field?: string, headers?: HeadersInit): HTTPException {
  const status = ERROR_CODES[code] as ContentfulStatusCode
  return new HTTPException(status, { message, res: errorResponse(code, message, field, headers) })
}
