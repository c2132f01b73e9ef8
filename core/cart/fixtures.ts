/** Test helpers of the cart domain: a snapshot of everything a refused cart request could have touched. */
import { accountSnapshot } from '../account/fixtures.ts'
import type { Core } from '../core.ts'

export const CART_TABLES = ['carts', 'cart_lines', 'orders', 'order_lines', 'cart_reservations', 'payments', 'sagas'] as const

/** Cart, order and account tables, and the catalog's variants (stock). */
export async function cartSnapshot(core: Core): Promise<Record<string, unknown>> {
  return accountSnapshot(core.db, [...CART_TABLES, 'accounts', 'catalog_variants'])
}

export const cartHeader = (cartId: string) => ({ 'x-floodgate-cart': cartId })
