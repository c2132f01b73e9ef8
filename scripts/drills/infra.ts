/**
 * What the drills run and break: a throwaway Postgres cluster, a redis-server, and core as child processes
 * (`node --import tsx core/main.ts`, ROLE=api and ROLE=worker), each started, killed, frozen or paused here,
 * never the shared services.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, type WriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import pg from 'pg'
import { freePort } from '../services.ts'

/** Postgres server binaries: PG_BIN, else the newest /usr/lib/postgresql/<v>/bin (Debian), else initdb on PATH. */
function findPgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
    : []
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (newest) return `/usr/lib/postgresql/${newest}/bin`
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim()
  if (onPath) return dirname(onPath)
  throw new Error(
    'the drills need the Postgres server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN',
  )
}
const PG_BIN = findPgBin()
export const ROOT_DIR = new URL('../..', import.meta.url).pathname

const asPostgres = (cmd: string, args: string[]) =>
  process.getuid?.() === 0 ? { cmd: 'runuser', args: ['-u', 'postgres', '--', cmd, ...args] } : { cmd, args }

export class DrillPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'fg-drill-pg-'))
  port = 0
  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }
  private run(cmd: string, args: string[]) {
    const c = asPostgres(join(PG_BIN, cmd), args)
    const r = spawnSync(c.cmd, c.args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`)
  }
  async init(): Promise<void> {
    if (process.getuid?.() === 0)
      chownSync(
        this.dir,
        Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()),
        Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()),
      )
    this.port = await freePort()
    this.run('initdb', ['-D', join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'])
    this.start()
  }
  start(): void {
    this.run('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      '-l',
      join(this.dir, 'log'),
      '-w',
      'start',
    ])
  }
  /** Immediate stop: connections are cut, as when the database host goes away. */
  stop(): void {
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop'])
  }
  async database(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name}`)
    await client.query(`CREATE DATABASE ${name}`)
    await client.end()
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`
  }
  destroy(): void {
    try {
      this.stop()
    } catch {}
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export class DrillRedis {
  port = 0
  private proc?: ChildProcess
  get url() {
    return `redis://127.0.0.1:${this.port}`
  }
  async start(): Promise<void> {
    this.port ||= await freePort()
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' },
    )
    const client = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    client.on('error', () => {})
    for (let i = 0; i < 100; i++) {
      try {
        await client.connect()
        await client.ping()
        client.disconnect()
        return
      } catch {
        await sleep(50)
      }
    }
    throw new Error('drill redis did not start')
  }
  /** kill -9: everything in memory is gone (no persistence configured). */
  kill9(): void {
    this.proc?.kill('SIGKILL')
    this.proc = undefined
  }
  async flush(): Promise<void> {
    const client = new Redis(this.url)
    await client.flushall()
    client.disconnect()
  }
  /** `CLIENT PAUSE ms ALL`: every client's commands wait, as when Redis stalls (a fork, a slow disk, a failover). */
  async pause(ms: number): Promise<void> {
    const client = new Redis(this.url)
    await client.call('CLIENT', 'PAUSE', String(ms), 'ALL')
    client.disconnect()
  }
}

export class CoreProcess {
  private proc?: ChildProcess
  /** Exits nobody asked for: core must survive every drill without a supervisor restarting it. */
  crashes = 0
  constructor(
    readonly role: 'api' | 'worker',
    private readonly env: Record<string, string>,
    private readonly log: WriteStream,
  ) {}
  async start(): Promise<void> {
    this.proc = spawn(process.execPath, ['--import', 'tsx', 'core/main.ts'], {
      cwd: ROOT_DIR,
      env: { ...process.env, ...this.env, ROLE: this.role },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const proc = this.proc
    proc.once('exit', (code, signal) => {
      if (this.proc === proc) {
        this.crashes++
        this.log.write(`\n[drills] core ${this.role} exited by itself: code ${code} signal ${signal}\n`)
      }
    })
    this.proc.stdout!.pipe(this.log, { end: false })
    this.proc.stderr!.pipe(this.log, { end: false })
    if (this.role === 'api') {
      const url = `http://127.0.0.1:${this.env.PORT}/healthz`
      for (let i = 0; i < 200; i++) {
        if (
          await fetch(url).then(
            (r) => r.ok,
            () => false,
          )
        )
          return
        await sleep(100)
      }
      throw new Error('core api did not become healthy')
    }
    await sleep(1500)
  }
  kill9(): void {
    this.proc?.kill('SIGKILL')
    this.proc = undefined
  }
  /** SIGSTOP: the process holds its sockets but does nothing (a stop-the-world pause, a frozen VM). */
  freeze(): void {
    this.proc?.kill('SIGSTOP')
  }
  thaw(): void {
    this.proc?.kill('SIGCONT')
  }
  async stop(): Promise<void> {
    const proc = this.proc
    if (!proc) return
    this.proc = undefined
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGTERM')
    await Promise.race([exited, sleep(8000)])
    proc.kill('SIGKILL')
  }
}
