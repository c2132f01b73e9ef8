/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and says where the CPU went: self time by
 * function and by area (a package in node_modules, a Floodgate folder, Node internals, GC).
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface CpuShare {
  name: string
  ms: number
  share: number
}

export function areaOf(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'gc'
  if (functionName === '(program)') return '(program: native, outside JS)'
  if (!url) return `native: ${functionName || 'anonymous'}`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return `pkg: ${pkg[1]}`
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`
  const own = /\/(core|contracts|bench|scripts|token-issuer)\/(.*)$/.exec(url)
  if (own) return `${own[1]}/${own[2]!.split('/').slice(0, -1).join('/') || own[2]}`
  return url
}

/** Self time per function and per area, without idle time, largest first. */
export function summarizeProfile(
  path: string,
  top = 15,
): { totalMs: number; functions: CpuShare[]; areas: CpuShare[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const fn = new Map<string, number>()
  const area = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    if (functionName === '(idle)') continue
    total += us
    const short = url
      .replace(/^.*\/node_modules\//, '')
      .replace(/^file:\/\/.*?\/(core|contracts|bench|scripts)\//, '$1/')
    const key = `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim()
    fn.set(key, (fn.get(key) ?? 0) + us)
    const a = areaOf(url, functionName)
    area.set(a, (area.get(a) ?? 0) + us)
  }
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: total ? us / total : 0 }))
  return { totalMs: Math.round(total / 1000), functions: list(fn), areas: list(area) }
}

/**
 * Who calls a hot function: its self time split by the first two frames up the stack that are not
 * Node internals (e.g. `writev` ← `submit pg/lib/query.js` says the time is Postgres query writes).
 */
export function callersOf(path: string, functionName: string, top = 5): { totalMs: number; callers: CpuShare[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const by = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    if (byId.get(id)!.callFrame.functionName !== functionName) continue
    total += us
    const chain: string[] = []
    for (let cur = parent.get(id); cur !== undefined && chain.length < 2; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame
      if (f.url && !f.url.startsWith('node:'))
        chain.push(
          `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(core|contracts|bench)\//, '$1/')}:${f.lineNumber + 1}`,
        )
    }
    const key = chain.join(' <- ') || '(no JS caller)'
    by.set(key, (by.get(key) ?? 0) + us)
  }
  const callers = [...by.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: total ? us / total : 0 }))
  return { totalMs: Math.round(total / 1000), callers }
}
