/**
 * An ES256 private JWK that no service is configured with: tests sign access tokens with it where a key other than
 * the one core signs with is wanted. Plain data, so the Node and the workerd tests can both import it.
 */
export const OTHER_ACCESS_TOKEN_KEY = JSON.stringify({
  kty: 'EC',
  crv: 'P-256',
  x: 'cr7KpuC_GKiXafkvKkntUzUaydAtIIsxj7BGqloKwRI',
  y: 'Yh3EmdebY0cELK2f2WtsibvSB3qvpr1H9Gce3oDJq5c',
  d: 'QTCYFUAwBayb-60Gq3ib1I_lFAfvzH-Y7bToNrtgBp4',
})
