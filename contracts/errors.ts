import { z } from 'zod'

/**
 * Every 4xx/5xx body Floodgate returns, from edge and core alike:
 * `{ "error": { "code": "grant_expired", "message": "…", "field": "grant" } }`.
 * Codes are stable API; messages are for people.
 */
export const ERROR_CODES = {
  // request shape
  invalid_json: 400,
  invalid_body: 400,
  invalid_query: 400,
  invalid_path: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  missing_idempotency_key: 400,
  invalid_idempotency_key: 400,
  missing_session: 400,
  invalid_session: 400,
  // auth
  unauthorized: 401,
  cross_site_request: 403,
  ticket_required: 404,
  // accounts (core /v1/auth, /v1/me; edge identity)
  email_taken: 409,
  invalid_credentials: 401,
  access_token_malformed: 401,
  access_token_bad_signature: 401,
  access_token_expired: 401,
  refresh_token_invalid: 401,
  refresh_token_reused: 401,
  forbidden: 403,
  account_not_found: 404,
  address_not_found: 404,
  sign_in_required: 401,
  verification_required: 403,
  // cart
  cart_not_found: 404,
  cart_line_not_found: 404,
  drop_sku: 409,
  insufficient_stock: 409,
  quote_invalid: 409,
  quote_expired: 409,
  cart_empty: 409,
  // purchase token / grant
  token_malformed: 400,
  token_bad_signature: 403,
  token_wrong_sale: 403,
  grant_malformed: 400,
  grant_bad_signature: 403,
  grant_expired: 410,
  grant_session_mismatch: 403,
  grant_token_mismatch: 403,
  grant_superseded: 409,
  token_used: 409,
  // queue ticket (waiting room)
  ticket_malformed: 400,
  ticket_bad_signature: 403,
  ticket_wrong_sale: 403,
  ticket_session_mismatch: 403,
  place_limit: 429,
  limit_reached: 409,
  sold_out: 409,
  idempotency_key_conflict: 422,
  // payments (core admin API, webhooks)
  payment_not_refundable: 409,
  refund_too_large: 409,
  webhook_signature_invalid: 400,
  // resources
  not_found: 404,
  sale_not_found: 404,
  order_not_found: 404,
  sale_exists: 409,
  sale_not_open: 409,
  room_not_configured: 404,
  // catalog (core catalog and search APIs)
  category_not_found: 404,
  product_not_found: 404,
  variant_not_found: 404,
  catalog_conflict: 409,
  rate_limited: 429,
  // server side
  unavailable: 503,
  edge_misconfigured: 503,
  internal: 500,
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
})
export type ErrorBody = z.infer<typeof ErrorBody>

export function errorBody(code: ErrorCode, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } }
}

/** Turns the first zod issue into the `field` a client should fix, e.g. `stock` or `tokens.3`. */
export function describeZodError(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]
  if (!issue) return { field: '', message: 'invalid input' }
  const field = issue.path.map(String).join('.')
  return { field, message: field ? `${field}: ${issue.message}` : issue.message }
}
