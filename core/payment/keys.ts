/** Idempotency keys for the gateway: derived from the order, identical on every retry. */
export const paymentKey = (orderId: string, action: 'authorize' | 'capture' | 'void') =>
  `floodgate:${orderId}:${action}`
/** Each refund has its own id (derived from the order and the caller's key); its gateway key is fixed by it. */
export const refundKey = (orderId: string, refundId: string) => `floodgate:${orderId}:refund:${refundId}`
