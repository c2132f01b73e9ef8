/**
 * The edge's local secrets: `wrangler dev` and the workerd tests read `.dev.vars`, which is each developer's own
 * (never committed). On a fresh clone it is copied from the checked-in `.dev.vars.example` (the dev values).
 * `npx tsx scripts/dev-vars.ts` does it from the command line (`npm run edge:dev` runs it first).
 */
import { copyFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Creates `.dev.vars` from `.dev.vars.example` when missing; says whether it did. */
export function ensureDevVars(): boolean {
  if (existsSync(`${ROOT}.dev.vars`)) return false
  copyFileSync(`${ROOT}.dev.vars.example`, `${ROOT}.dev.vars`)
  return true
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (ensureDevVars()) console.log('wrote .dev.vars from .dev.vars.example (dev-only secrets, FLOODGATE_DEV=true)')
}
