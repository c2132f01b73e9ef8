import { fileURLToPath } from 'node:url'
import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineProject } from 'vitest/config'
import { ensureDevVars } from '../scripts/dev-vars.ts'

// The worker's secrets come from .dev.vars, as under `wrangler dev` (a fresh clone has only the example).
ensureDevVars()

const root = fileURLToPath(new URL('..', import.meta.url))

// The workerd project: edge, waiting room, and the shared token vectors (which must hold in both runtimes).
export default defineProject({
  root,
  plugins: [
    cloudflareTest({
      wrangler: { configPath: fileURLToPath(new URL('../wrangler.toml', import.meta.url)) },
    }),
  ],
  test: {
    name: 'workers',
    dir: root,
    include: ['edge/**/*.test.ts', 'waiting-room/**/*.test.ts', 'contracts/**/*.test.ts'],
  },
})
