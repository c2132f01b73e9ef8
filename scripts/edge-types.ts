/**
 * `npm run edge:types`: writes the edge Worker's `Env` (edge/env.generated.d.ts) from wrangler.toml with
 * `wrangler types`. `npm run edge:types:check`: generates it again into a temporary file next to it and exits 1
 * with a diff when the checked-in file is not current (for CI).
 *
 * Runtime types come from @cloudflare/workers-types (--include-runtime=false); variables and secrets are typed
 * `string`, not their values (--strict-vars=false), so a dev secret changing value does not change the file.
 * Secrets kept out of wrangler.toml (in a developer's own .dev.vars) are named for the types by a checked-in
 * `.dev.vars.example` when there is one, so the file does not depend on anyone's local secrets.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT = 'edge/env.generated.d.ts'
const TEMP = 'edge/env.generated.check.d.ts'
const SECRET_NAMES = '.dev.vars.example'

function generate(path: string): void {
  const run = spawnSync(
    'npx',
    [
      'wrangler',
      'types',
      path,
      '--include-runtime=false',
      '--strict-vars=false',
      ...(existsSync(`${ROOT}${SECRET_NAMES}`) ? ['--env-file', SECRET_NAMES] : []),
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    },
  )
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr)
    process.exit(run.status ?? 1)
  }
}

if (!process.argv.includes('--check')) {
  generate(OUT)
  process.stdout.write(`wrote ${OUT}\n`)
} else {
  generate(TEMP)
  // The header names the file it was written to; everything else must match the checked-in file exactly.
  writeFileSync(`${ROOT}${TEMP}`, readFileSync(`${ROOT}${TEMP}`, 'utf8').replace(TEMP, OUT))
  const diff = spawnSync('git', ['diff', '--no-index', '--exit-code', '--', OUT, TEMP], { cwd: ROOT, encoding: 'utf8' })
  rmSync(`${ROOT}${TEMP}`)
  if (diff.status === 0) process.stdout.write(`${OUT} is current\n`)
  else {
    process.stderr.write(`${OUT} is not what wrangler.toml gives: run npm run edge:types\n${diff.stdout}${diff.stderr}`)
    process.exit(1)
  }
}
