import { SALE_ID_PATTERN } from '../../contracts/index.ts'

const SALE_KEY_PARTS = [
  'meta',
  'stock',
  'sold',
  'tokens',
  'holds',
  'holdInfo',
  'shoppers',
  'idempotency',
  'checkouts',
  'released',
  'roomOutbox',
] as const
export type SaleKeyPart = (typeof SALE_KEY_PARTS)[number]
export type SaleKeys = Record<SaleKeyPart, string>

/**
 * Every Redis key of a sale: `<prefix>:{<saleId>}:<part>`. The `{saleId}` hash tag puts all keys of
 * one sale in one Redis Cluster slot, so each Lua script touches a single slot.
 */
export function saleKeys(prefix: string, saleId: string): SaleKeys {
  if (!SALE_ID_PATTERN.test(saleId)) throw new Error(`sale id ${JSON.stringify(saleId)} cannot be used in a Redis key`)
  const keys = {} as SaleKeys
  for (const part of SALE_KEY_PARTS) keys[part] = `${prefix}:{${saleId}}:${part}`
  return keys
}
