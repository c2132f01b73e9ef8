import { describe, expect, it } from 'vitest'
import { createGateway } from './core.ts'
import { loadConfig } from './config.ts'
import { StripeGateway } from './payment/stripe-gateway.ts'

describe('when PAYMENT_GATEWAY=stripe', () => {
  it('should refuse to start without a Stripe secret key', () => {
    expect(() => loadConfig({ PAYMENT_GATEWAY: 'stripe' })).toThrow(
      /STRIPE_SECRET_KEY: required when PAYMENT_GATEWAY=stripe/,
    )
  })

  it('should refuse something that is not a Stripe secret key', () => {
    expect(() => loadConfig({ PAYMENT_GATEWAY: 'stripe', STRIPE_SECRET_KEY: 'pk_test_publishable' })).toThrow(
      /STRIPE_SECRET_KEY/,
    )
  })

  it('should build the Stripe gateway from the key and API base', () => {
    const config = loadConfig({
      PAYMENT_GATEWAY: 'stripe',
      STRIPE_SECRET_KEY: 'sk_test_abc',
      STRIPE_API_BASE: 'http://127.0.0.1:12111',
    })
    expect(createGateway(config)).toBeInstanceOf(StripeGateway)
    expect(config.PAYMENT_MAX_TRIES).toBe(12)
  })
})

describe('when no gateway is chosen', () => {
  it('should use the simulated one', () => {
    expect(createGateway(loadConfig({})).name).toBe('simulated')
  })
})

describe('when core would run with the dev-only secrets that ship in this repository', () => {
  const real = {
    TOKEN_SECRET: 't'.repeat(40),
    GRANT_SECRET: 'g'.repeat(40),
    CORE_ADMIN_TOKEN: 'a'.repeat(40),
    CORE_INTERNAL_TOKEN: 'i'.repeat(40),
    EDGE_ADMIN_TOKEN: 'e'.repeat(40),
    METRICS_TOKEN: 'm'.repeat(40),
    CART_QUOTE_SECRET: 'q'.repeat(40),
    ACCESS_TOKEN_KEY: JSON.stringify({
      kty: 'EC',
      crv: 'P-256',
      x: 'cr7KpuC_GKiXafkvKkntUzUaydAtIIsxj7BGqloKwRI',
      y: 'Yh3EmdebY0cELK2f2WtsibvSB3qvpr1H9Gce3oDJq5c',
      d: 'QTCYFUAwBayb-60Gq3ib1I_lFAfvzH-Y7bToNrtgBp4',
    }),
  }

  it('should allow them on loopback outside production', () => {
    for (const HOST of ['127.0.0.1', 'localhost', '::1']) expect(loadConfig({ HOST }).HOST).toBe(HOST)
  })

  it('should refuse each of them when listening beyond loopback, whatever NODE_ENV says', () => {
    for (const NODE_ENV of ['development', 'test', undefined]) {
      expect(() => loadConfig({ HOST: '0.0.0.0', NODE_ENV })).toThrow(
        /TOKEN_SECRET: must be set to a real secret when core listens beyond loopback/,
      )
    }
    for (const key of Object.keys(real)) {
      const { [key as keyof typeof real]: _kept, ...others } = real
      expect(() => loadConfig({ HOST: '10.0.0.5', ...others })).toThrow(new RegExp(`${key}: must be set`))
    }
    expect(loadConfig({ HOST: '0.0.0.0', ...real }).HOST).toBe('0.0.0.0')
  })

  it('should refuse them in production even on loopback, and refuse the compose override there', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /GRANT_SECRET: must be set to a real secret in production/,
    )
    expect(() => loadConfig({ NODE_ENV: 'production', ALLOW_DEV_SECRETS: 'true', ...real })).toThrow(
      /ALLOW_DEV_SECRETS/,
    )
  })

  it('should refuse an access-token key that is not a private P-256 JWK', () => {
    const publicOnly = '{"kty":"EC","crv":"P-256"}'
    expect(() => loadConfig({ ACCESS_TOKEN_KEY: publicOnly })).toThrow(/ACCESS_TOKEN_KEY: must be a private P-256 JWK/)
    expect(() => loadConfig({ ACCESS_TOKEN_KEY: 'not json' })).toThrow(/ACCESS_TOKEN_KEY/)
  })

  it('should allow them on 0.0.0.0 only with ALLOW_DEV_SECRETS (a container published on the host loopback)', () => {
    expect(loadConfig({ HOST: '0.0.0.0', ALLOW_DEV_SECRETS: 'true' }).ALLOW_DEV_SECRETS).toBe(true)
  })
})
