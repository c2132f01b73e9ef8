import { z } from 'zod'

/**
 * Identifiers that end up inside Redis keys must never contain `:`, `{` or `}`:
 * the sale id is the hash tag of every key of a sale (`fg:{<saleId>}:stock`).
 */
export const SALE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/
export const TOKEN_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/
export const ORDER_ID_PATTERN = /^ord_[a-f0-9]{32}$/
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{8,255}$/
export const SESSION_PATTERN = /^[A-Za-z0-9_-]{16,128}$/
export const SHOPPER_PATTERN = /^[A-Za-z0-9_-]{22}$/

export const SaleId = z
  .string()
  .regex(SALE_ID_PATTERN, 'must be 1-63 chars of a-z, 0-9 and "-", starting with a letter or digit')
export type SaleId = z.infer<typeof SaleId>

export const TokenId = z.string().regex(TOKEN_ID_PATTERN, 'must be 16-64 base64url chars')
export type TokenId = z.infer<typeof TokenId>

export const OrderId = z.string().regex(ORDER_ID_PATTERN, 'must look like ord_ followed by 32 hex chars')
export type OrderId = z.infer<typeof OrderId>

export const IdempotencyKey = z
  .string()
  .regex(IDEMPOTENCY_KEY_PATTERN, 'must be 8-255 chars of A-Z, a-z, 0-9 and _ . : -')

/** The opaque session id a shopper's browser or app holds (cookie `fg_session` or header). */
export const SessionId = z.string().regex(SESSION_PATTERN, 'must be 16-128 base64url chars')

/** A shopper is known to core only by the hash of its session (see `shopperOf`). */
export const ShopperId = z.string().regex(SHOPPER_PATTERN, 'must be 22 base64url chars')
export type ShopperId = z.infer<typeof ShopperId>
