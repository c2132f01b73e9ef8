// Runs in BOTH vitest projects: Node (core's runtime) and workerd (the edge's runtime).
import { describe, expect, it } from 'vitest'
import vectors from './vectors.json'
import { vectorVerdicts } from './vectors.ts'

const runtime =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers'
    ? 'workerd'
    : 'node'

describe(`token vectors (${runtime})`, () => {
  it('should cover every case in vectors.json', async () => {
    const verdicts = await vectorVerdicts()
    expect(verdicts).toHaveLength(
      2 +
        vectors.signing.length +
        vectors.tokens.length +
        vectors.grants.length +
        vectors.orderIds.length +
        vectors.receipts.length +
        vectors.accounts.length +
        vectors.accessTokens.length,
    )
  })

  it('should sign, hash and verify every vector exactly as recorded', async () => {
    for (const { name, expected, actual } of await vectorVerdicts()) expect(actual, name).toBe(expected)
  })
})
