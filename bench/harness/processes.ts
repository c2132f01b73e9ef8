/**
 * Child processes of a benchmark run (core API, core workers, the baseline server), each a separate
 * `node --import tsx …` so its memory and CPU are its own, sampled from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

export interface NodeProcess {
  name: string
  child: ChildProcess
  /** Resident set size now, MB (0 when /proc is not there). */
  rssMb(): number
  /** CPU seconds (user + system) used so far. */
  cpuSeconds(): number
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>
  /** Last lines of its stderr/stdout, for error messages. */
  tail(): string
}

const CLOCK_TICKS = 100

export function procRssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) / 1024 : 0
  } catch {
    return 0
  }
}

export function procCpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return 0
  }
}

export function startNode(
  name: string,
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): NodeProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    name,
    child,
    rssMb: () => (child.pid ? procRssMb(child.pid) : 0),
    cpuSeconds: () => (child.pid ? procCpuSeconds(child.pid) : 0),
    tail: () => output,
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Waits until `url` answers 200 (or the process dies, or `timeoutMs` passes). */
export async function waitHealthy(proc: NodeProcess, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null)
      throw new Error(`${proc.name} exited with ${proc.child.exitCode}:\n${proc.tail()}`)
    try {
      const res = await fetch(url)
      if (res.status === 200) return
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  throw new Error(`${proc.name} did not become healthy at ${url} within ${timeoutMs} ms:\n${proc.tail()}`)
}

/** Samples peak RSS and CPU of some processes while a phase runs. */
export class ResourceSampler {
  private timer?: NodeJS.Timeout
  readonly peakRssMb = new Map<string, number>()

  constructor(private readonly procs: () => NodeProcess[]) {}

  start(everyMs = 200): this {
    const sample = () => {
      for (const p of this.procs()) this.peakRssMb.set(p.name, Math.max(this.peakRssMb.get(p.name) ?? 0, p.rssMb()))
    }
    sample()
    this.timer = setInterval(sample, everyMs)
    return this
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

/** CPU used by a process during `fn`, as a share of one core. */
export async function measureCpu<T>(
  procs: NodeProcess[],
  fn: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = procs.map((p) => p.cpuSeconds())
  const t0 = performance.now()
  const result = await fn()
  const seconds = (performance.now() - t0) / 1000
  const cpu: Record<string, number> = {}
  procs.forEach((p, i) => (cpu[p.name] = (p.cpuSeconds() - before[i]!) / seconds))
  return { result, cpu }
}

/** Every pid whose command name is `comm` (e.g. all Postgres backends), from /proc. */
export function pidsNamed(comm: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry))
    } catch {
      // gone
    }
  }
  return pids
}

/** CPU seconds the whole machine spent busy (all cores, everything but idle and iowait). */
export function machineBusySeconds(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS
  } catch {
    return 0
  }
}

export type CpuSnapshot = Record<string, number>

/**
 * Who used the CPU during a phase, in cores: each benchmark process, Redis, all Postgres processes,
 * this harness (the load generator), and `other` = everything else on the machine (other people's
 * tests on a shared box: the noise).
 */
export class CpuAccount {
  constructor(
    private readonly procs: () => NodeProcess[],
    private readonly redisPid: number | null,
  ) {}

  snapshot(): CpuSnapshot {
    const snap: CpuSnapshot = { machine: machineBusySeconds(), wall: performance.now() / 1000 }
    for (const p of this.procs()) snap[p.name] = p.cpuSeconds()
    if (this.redisPid) snap.redis = procCpuSeconds(this.redisPid)
    snap.postgres = pidsNamed('postgres').reduce((n, pid) => n + procCpuSeconds(pid), 0)
    const own = process.cpuUsage()
    snap.harness = (own.user + own.system) / 1e6
    return snap
  }

  /** Cores used per source between two snapshots (sources present in both). */
  static between(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
    const seconds = b.wall! - a.wall!
    const out: Record<string, number> = {}
    let named = 0
    for (const key of Object.keys(b)) {
      if (key === 'wall' || key === 'machine' || a[key] === undefined) continue
      out[key] = Math.max(0, (b[key]! - a[key]!) / seconds)
      named += out[key]!
    }
    out.machine = (b.machine! - a.machine!) / seconds
    out.other = Math.max(0, out.machine - named)
    return out
  }
}

export function formatCpu(cpu: Record<string, number>): string {
  return (
    Object.entries(cpu)
      .filter(([k, v]) => k !== 'machine' && v >= 0.005)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ') + ` (machine ${cpu.machine?.toFixed(2)} of ${CORES} cores)`
  )
}
const CORES = cpus().length
