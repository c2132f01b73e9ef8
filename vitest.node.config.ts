import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'node',
    include: [
      'contracts/**/*.test.ts',
      'core/**/*.test.ts',
      'token-issuer/**/*.test.ts',
      'fairness/**/*.test.ts',
      'test/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests share one Redis and one Postgres; each uses its own sale ids / schema, but heavy
    // concurrency tests should not fight each other for 2 cores.
    fileParallelism: false,
  },
})
