/**
 * The developer path as its own processes: `npm run core` (core/main.ts, API + workers) and `wrangler dev` (the
 * edge and its waiting room), on free ports, with their own Postgres schema, Redis key prefix and Durable
 * Object storage, so a run never sees another's data. Used by `npm run bench:shoppers -- --target wrangler`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig } from '../core/config.ts'
import { issuerConfig, type IssuerConfig } from '../token-issuer/issuer.ts'
import { ensureDevVars } from './dev-vars.ts'
import { ramScratch } from './local-edge.ts'
import { ensureServices, freePort } from './services.ts'
import { createStackData } from './stack-data.ts'

const ROOT = new URL('..', import.meta.url).pathname

export interface DevStack {
  coreUrl: string
  edgeUrl: string
  /** Where the two processes' output goes. */
  logDir: string
  issuerConfig(): IssuerConfig
  stop(options?: { keepLogs?: boolean }): Promise<void>
}

async function waitHealthy(url: string, what: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before it was healthy`)
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return
    await sleep(200)
  }
  throw new Error(`${what} did not become healthy at ${url} within ${timeoutMs / 1000} s`)
}

/** Sends `signal` to the process group of a child started with `detached: true` (to the child alone if that fails). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    child.kill(signal)
  }
}

/**
 * Stops a child started with `detached: true` and everything it started: `npx wrangler dev` is npx -> node ->
 * wrangler -> two workerd processes, and a signal to npx alone left the rest running (and using CPU) after the run.
 */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 8_000)
    child.once('exit', () => {
      clearTimeout(timer)
      // The leader can exit before its children do: make sure none is left.
      signalGroup(child, 'SIGKILL')
      resolve()
    })
    signalGroup(child, 'SIGTERM')
  })
}

/**
 * Detached children do not get the terminal's Ctrl-C: whenever this process ends (exit, Ctrl-C, SIGTERM),
 * their groups are killed with it.
 */
function killWithThisProcess(children: ChildProcess[]): () => void {
  const kill = () => {
    for (const child of children) if (child.exitCode === null) signalGroup(child, 'SIGKILL')
  }
  const onSignal = (signal: NodeJS.Signals) => {
    kill()
    process.kill(process.pid, signal)
  }
  process.once('exit', kill)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  return () => {
    process.off('exit', kill)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

export interface DevStackOptions {
  /** Extra environment for core (e.g. SIM_PAYMENT_FAILURE_RATE). */
  coreEnv?: Record<string, string>
  /** wrangler dev's V8 inspector port (CPU profiles of the worker). */
  inspectorPort?: number
}

export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const services = await ensureServices({ allowEmbedded: false })
  const data = await createStackData(services, 'floodgate_dev', 'fgd')
  // `wrangler dev` reads the edge's secrets from .dev.vars, as `npm run edge:dev` has it.
  ensureDevVars()
  const [corePort, edgePort] = [await freePort(), await freePort()]
  const coreUrl = `http://127.0.0.1:${corePort}`
  const edgeUrl = `http://127.0.0.1:${edgePort}`
  const logDir = mkdtempSync(join(tmpdir(), 'fg-dev-stack-'))
  // The room's SQLite on a RAM disk where there is one, as the Miniflare stack has it (scripts/local-edge.ts).
  const scratch = ramScratch()
  const persist = join(scratch ?? logDir, 'wrangler-state')

  const coreEnv = {
    ...process.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(corePort),
    LOG_LEVEL: 'warn',
    REDIS_URL: services.redisUrl,
    REDIS_PREFIX: data.prefix,
    DATABASE_URL: data.databaseUrl,
    EDGE_URL: edgeUrl,
    ...options.coreEnv,
  }
  const coreLog = createWriteStream(join(logDir, 'core.log'))
  const core = spawn(process.execPath, ['--import', 'tsx', 'core/main.ts'], {
    cwd: ROOT,
    env: coreEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  core.stdout!.pipe(coreLog, { end: false })
  core.stderr!.pipe(coreLog, { end: false })

  const edgeLog = createWriteStream(join(logDir, 'wrangler.log'))
  const wranglerArgs = [
    'wrangler',
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(edgePort),
    '--persist-to',
    persist,
    '--var',
    `CORE_URL:${coreUrl}`,
    '--show-interactive-dev-session=false',
    '--log-level',
    'warn',
    ...(options.inspectorPort ? ['--inspector-port', String(options.inspectorPort)] : []),
  ]
  const edge = spawn('npx', wranglerArgs, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  edge.stdout!.pipe(edgeLog, { end: false })
  edge.stderr!.pipe(edgeLog, { end: false })

  const forget = killWithThisProcess([core, edge])
  const stop = async ({ keepLogs = false } = {}) => {
    await Promise.all([stopChild(core), stopChild(edge)])
    forget()
    coreLog.end()
    edgeLog.end()
    await data.drop()
    await services.stop()
    if (scratch) rmSync(scratch, { recursive: true, force: true })
    if (!keepLogs) rmSync(logDir, { recursive: true, force: true })
  }
  try {
    await Promise.all([waitHealthy(coreUrl, '`npm run core`', core), waitHealthy(edgeUrl, '`wrangler dev`', edge)])
  } catch (error) {
    await stop({ keepLogs: true })
    throw new Error(`${(error as Error).message} (logs in ${logDir})`)
  }
  const dev = loadConfig(coreEnv)
  return {
    coreUrl,
    edgeUrl,
    logDir,
    issuerConfig: () =>
      issuerConfig({
        CORE_URL: coreUrl,
        EDGE_URL: edgeUrl,
        CORE_ADMIN_TOKEN: dev.CORE_ADMIN_TOKEN,
        EDGE_ADMIN_TOKEN: dev.EDGE_ADMIN_TOKEN,
        TOKEN_SECRET: dev.TOKEN_SECRET,
      }),
    stop,
  }
}
