import { describe, expect, it } from 'vitest'
import { createGateway } from './core.ts'
import { loadConfig } from './config.ts'
import { StripeGateway } from './payment/stripe-gateway.ts'

describe('when PAYMENT_GATEWAY=stripe', () => {
  it('should refuse to start without a Stripe secret key', () => {
    expect(() => loadConfig({ PAYMENT_GATEWAY: 'stripe' })).toThrow(/STRIPE_SECRET_KEY: required when PAYMENT_GATEWAY=stripe/)
  })

  it('should refuse something that is not a Stripe secret key', () => {
    expect(() => loadConfig({ PAYMENT_GATEWAY: 'stripe', STRIPE_SECRET_KEY: 'pk_test_publishable' })).toThrow(/STRIPE_SECRET_KEY/)
  })

  it('should build the Stripe gateway from the key and API base', () => {
    const config = loadConfig({ PAYMENT_GATEWAY: 'stripe', STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_API_BASE: 'http://127.0.0.1:12111' })
    expect(createGateway(config)).toBeInstanceOf(StripeGateway)
    expect(config.PAYMENT_MAX_TRIES).toBe(12)
  })
})

describe('when no gateway is chosen', () => {
  it('should use the simulated one', () => {
    expect(createGateway(loadConfig({})).name).toBe('simulated')
  })
})
