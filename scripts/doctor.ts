/**
 * `npm run doctor [-- --json]`: is this machine ready for Floodgate's two commands? Checks Node, Redis and
 * Postgres (at the URLs the demo and the tests use), Chromium (the browser tests), the tools the failure drills
 * start themselves, and the ports `npm run core` and `npm run edge:dev` listen on. Every failing check prints
 * the exact fix. Exit code 1 when something `npm test` or `npm run demo` needs is missing.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import pg from 'pg'

export type CheckLevel = 'ok' | 'warn' | 'fail'
export interface Check {
  name: string
  level: CheckLevel
  detail: string
  /** What to run or change when the check is not ok. */
  fix?: string
}

const MIN_NODE = [20, 10] as const
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const onPath = (binary: string) => spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0

function nodeCheck(): Check {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number]
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])
  return ok
    ? { name: 'node', level: 'ok', detail: `v${process.versions.node}` }
    : {
        name: 'node',
        level: 'fail',
        detail: `v${process.versions.node}; Floodgate needs ${MIN_NODE.join('.')} or newer`,
        fix: 'install Node 20 LTS (e.g. `nvm install 20`), then `npm ci`',
      }
}

async function redisCheck(url: string, purpose: string): Promise<Check> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    const info = await client.info('server')
    return {
      name: `redis (${purpose})`,
      level: 'ok',
      detail: `${url}: redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`,
    }
  } catch (error) {
    return {
      name: `redis (${purpose})`,
      level: purpose === 'demo' && onPath('redis-server') ? 'warn' : 'fail',
      detail: `${url}: ${(error as Error).message}${purpose === 'demo' && onPath('redis-server') ? ' (the demo starts its own redis-server)' : ''}`,
      fix: onPath('redis-server')
        ? 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
        : 'apt-get install -y redis-server (or `docker compose up -d redis`, or `brew install redis`), or set REDIS_URL',
    }
  } finally {
    client.disconnect()
  }
}

function postgresStartFix(): string {
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : []
  if (versions.length) return `pg_ctlcluster --skip-systemctl-redirect ${versions[0]} main start`
  return 'apt-get install -y postgresql (or `docker compose up -d postgres`), or set DATABASE_URL'
}

async function postgresCheck(url: string, purpose: string): Promise<Check> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 })
  client.on('error', () => {})
  try {
    await client.connect()
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")
    return { name: `postgres (${purpose})`, level: 'ok', detail: `${url}: postgres ${rows[0]?.v}` }
  } catch (error) {
    const message = (error as Error).message
    const database = new URL(url).pathname.slice(1)
    const missingDb = /database .* does not exist/.test(message)
    return {
      name: `postgres (${purpose})`,
      // The demo falls back to an embedded PGlite; the tests need the real thing.
      level: purpose === 'demo' ? 'warn' : 'fail',
      detail: `${url}: ${message}${purpose === 'demo' ? ' (the demo falls back to an embedded PGlite)' : ''}`,
      fix: missingDb ? `createdb -h 127.0.0.1 -U postgres ${database}` : postgresStartFix(),
    }
  } finally {
    await client.end().catch(() => {})
  }
}

function chromiumCheck(): Check {
  if (existsSync(CHROMIUM)) {
    const version = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).stdout.trim()
    return { name: 'chromium', level: 'ok', detail: `${CHROMIUM}: ${version || 'present'}` }
  }
  return {
    name: 'chromium',
    level: 'warn',
    detail: `${CHROMIUM} is missing: the browser tests (test/browser/*.test.ts) are skipped by \`npm test\``,
    fix: 'apt-get install -y chromium (or set CHROMIUM_PATH to a Chromium/Chrome binary)',
  }
}

function drillToolsCheck(): Check {
  const pgBin =
    existsSync('/usr/lib/postgresql') &&
    readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
  const missing = [
    onPath('redis-server') ? null : 'redis-server',
    pgBin || onPath('initdb') ? null : 'initdb/pg_ctl',
  ].filter(Boolean)
  return missing.length === 0
    ? { name: 'drill tools', level: 'ok', detail: 'redis-server and the Postgres server binaries (npm run drills)' }
    : {
        name: 'drill tools',
        level: 'warn',
        detail: `${missing.join(', ')} missing: \`npm run drills\` starts and kills its own Redis and Postgres`,
        fix: 'apt-get install -y redis-server postgresql',
      }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

async function portCheck(port: number, who: string): Promise<Check> {
  if (await portFree(port)) return { name: `port ${port}`, level: 'ok', detail: `free for ${who}` }
  return {
    name: `port ${port}`,
    level: 'warn',
    detail: `in use: ${who} cannot listen there (the demo and the tests pick free ports and do not need it)`,
    fix: `see what holds it: \`ss -ltnp 'sport = :${port}'\`; stop it, or run ${who} on another port`,
  }
}

function dependenciesCheck(): Check {
  const root = new URL('..', import.meta.url).pathname
  return existsSync(`${root}node_modules/.package-lock.json`)
    ? { name: 'dependencies', level: 'ok', detail: 'node_modules installed' }
    : { name: 'dependencies', level: 'fail', detail: 'node_modules is missing', fix: 'npm ci' }
}

/** Every check, in the order a newcomer would fix them. */
export async function runChecks(): Promise<Check[]> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const testDb = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const demoDb = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  return [
    nodeCheck(),
    dependenciesCheck(),
    await redisCheck(redisUrl, 'tests'),
    await postgresCheck(testDb, 'tests'),
    ...(demoDb === testDb ? [] : [await postgresCheck(demoDb, 'demo')]),
    chromiumCheck(),
    drillToolsCheck(),
    await portCheck(3000, '`npm run core`'),
    await portCheck(8787, '`npm run edge:dev`'),
  ]
}

/** Lines of advice for every check that is not ok (printed by the demo and the tests when a service is missing). */
export async function doctorAdvice(checks?: Check[]): Promise<string[]> {
  const list = checks ?? (await runChecks())
  return list
    .filter((c) => c.level !== 'ok')
    .map((c) => `  ${c.level === 'fail' ? '✗' : '!'} ${c.name}: ${c.detail}${c.fix ? `\n      fix: ${c.fix}` : ''}`)
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } })
  const checks = await runChecks()
  const failed = checks.some((c) => c.level === 'fail')
  if (values.json) {
    console.log(JSON.stringify({ ok: !failed, checks }))
  } else {
    for (const c of checks) {
      const mark = c.level === 'ok' ? '✓' : c.level === 'warn' ? '!' : '✗'
      console.log(`${mark} ${c.name.padEnd(18)} ${c.detail}`)
      if (c.fix && c.level !== 'ok') console.log(`  ${' '.repeat(18)} fix: ${c.fix}`)
    }
    console.log(
      failed ? '\nnot ready: fix the ✗ lines above' : '\nready: `npm run demo` and `npm test` have what they need',
    )
  }
  process.exitCode = failed ? 1 : 0
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
