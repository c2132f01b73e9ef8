/**
 * k6 cannot be installed here, so the k6 scenarios are checked as far as Node can take them:
 * - each script bundles as an ES module whose only imports are k6's own modules and ./lib.js;
 * - loaded against stand-ins for those k6 modules, each exports open-model scenarios whose `exec`
 *   functions exist, and thresholds for the invariants, latency and dropped_iterations on metrics
 *   the script defines (or k6 builds in);
 * - one iteration of every scenario and its teardown run against a scripted fake of the edge and core;
 * - the pure helpers in lib.js are unit-tested, and forged tokens really fail core's verification.
 */
import { readdirSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build, type BuildOptions, type Plugin } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IDEMPOTENCY_KEY_PATTERN, verifyGrant, verifyPurchaseToken } from '../../contracts/index.ts'
import { mintRedemptions } from './pairs.ts'

const K6_DIR = resolve(__dirname, '../k6')
const SCRIPTS = readdirSync(K6_DIR).filter((f) => f.endsWith('.js') && f !== 'lib.js')
const K6_MODULES = new Set(['k6', 'k6/http', 'k6/metrics', 'k6/execution', 'k6/data'])
const BUILTIN_METRICS = new Set([
  'http_req_duration',
  'http_req_failed',
  'http_reqs',
  'checks',
  'dropped_iterations',
  'iterations',
  'iteration_duration',
  'vus',
])
const SECRETS = {
  tokenSecret: 'k6-test-token-secret-0123456789abcdef',
  grantSecret: 'k6-test-grant-secret-0123456789abcdef',
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

interface FakeResponse {
  status: number
  body: string
  headers: Record<string, string>
  timings: { duration: number }
}

/** What the k6 stand-ins record, and how the fake server answers. Reached from the bundles via globalThis. */
interface Stub {
  metrics: Map<string, { type: string; samples: Array<{ value: number; tags?: Record<string, string> }> }>
  checks: Array<{ name: string; ok: boolean }>
  requests: Array<{ method: string; url: string; body: string | null; params: Any }>
  route: (method: string, url: string, body: string | null, params: Any) => FakeResponse
  exec: Any
}

const STUB_SOURCES: Record<string, string> = {
  k6: `const S = globalThis.__k6stub
    export function check(value, sets, tags) { let all = true
      for (const [name, fn] of Object.entries(sets)) { const ok = !!fn(value); S.checks.push({ name, ok, tags }); all = all && ok }
      return all }
    export function sleep() {}
    export function group(_n, fn) { return fn() }
    export default { check, sleep, group }`,
  'k6/http': `const S = globalThis.__k6stub
    class CookieJar { constructor() { this.cookies = {} } cookiesForURL() { return { fg_session: ['stub-session'] } } set() {} clear() {} }
    const request = (method, url, body, params) => { S.requests.push({ method, url, body, params }); return S.route(method, url, body, params) }
    const http = { CookieJar, get: (url, params) => request('GET', url, null, params), post: (url, body, params) => request('POST', url, body, params), cookieJar: () => new CookieJar() }
    export default http
    export { CookieJar }`,
  'k6/metrics': `const S = globalThis.__k6stub
    class Metric { constructor(name, isTime) { this.name = name; S.metrics.set(name, { type: this.constructor.name, samples: [] }) }
      add(value, tags) { S.metrics.get(this.name).samples.push({ value: Number(value), tags }) } }
    export class Counter extends Metric {}
    export class Rate extends Metric {}
    export class Trend extends Metric {}
    export class Gauge extends Metric {}`,
  'k6/execution': `export default globalThis.__k6stub.exec`,
  'k6/data': `export class SharedArray { constructor(_name, fn) { return fn() } }`,
}

const k6Stubs: Plugin = {
  name: 'k6-stubs',
  setup(b) {
    b.onResolve({ filter: /^k6(\/.*)?$/ }, (a) => ({ path: a.path, namespace: 'k6' }))
    b.onLoad({ filter: /.*/, namespace: 'k6' }, (a) => ({ contents: STUB_SOURCES[a.path], loader: 'js' }))
  },
}

function respond(status: number, body: unknown, headers: Record<string, string> = {}): FakeResponse {
  return { status, body: typeof body === 'string' ? body : JSON.stringify(body), headers, timings: { duration: 3 } }
}

const INVARIANT = {
  saleId: 'drop-1',
  stock: 10,
  redis: { available: 7, held: 0, sold: 3 },
  postgres: {
    confirmed: 3,
    pending: 0,
    failed: 1,
    soldCounter: 3,
    tokensWithTwoConfirmedOrders: 0,
    shoppersOverLimit: 0,
  },
  checks: [],
  ok: true,
}

/** A scripted edge + core good enough for one iteration of each scenario. */
function fakeServer(method: string, url: string, body: string | null): FakeResponse {
  const path = new URL(url).pathname
  if (path.endsWith('/invariant')) return respond(200, INVARIANT)
  if (path === '/api/sales/no-such-sale-k6') return respond(404, { error: { code: 'sale_not_found', message: 'no' } })
  if (method === 'GET' && /^\/api\/sales\/[^/]+$/.test(path)) {
    return respond(200, { saleId: 'drop-1' }, { 'X-Floodgate-Cache': 'hit', 'Cache-Control': 'public, max-age=2' })
  }
  if (path.endsWith('/join'))
    return respond(200, {
      state: 'waiting',
      position: 3,
      ahead: 2,
      unitsLeft: 10,
      refreshMs: 50,
      token: null,
      grant: null,
    })
  if (path.endsWith('/status'))
    return respond(200, { state: 'admitted', refreshMs: 50, token: 'fgt1.a.b', grant: 'fgg1.a.b' })
  if (path.endsWith('/redeem')) {
    const { token, grant } = JSON.parse(body ?? '{}') as { token: string; grant: string }
    const forged = !/^fgt1\.[^.]+\.[^.]+$/.test(token) || token.includes('.A') || grant.includes('.A')
    return forged
      ? respond(403, { error: { code: 'token_bad_signature', message: 'no' } })
      : respond(202, { orderId: `ord_${'a'.repeat(32)}`, status: 'pending', replayed: false })
  }
  if (path.startsWith('/api/orders/')) return respond(200, { orderId: path.split('/').pop(), status: 'confirmed' })
  // The storefront (browse.js): cached pages, and live availability apart from them.
  const page = (html: string) => respond(200, html, { 'X-Floodgate-Cache': 'hit', 'Content-Type': 'text/html' })
  if (path === '/p/no-such-product-k6') return respond(404, '<h1>Product not found</h1>')
  if (path.startsWith('/p/')) return page('<span class="stock" data-sku="SKU-1">Checking availability…</span>')
  if (path === '/' || path.startsWith('/c/') || path === '/search') return page('<h1>Store</h1>')
  if (path === '/api/availability') {
    return respond(200, { items: [{ sku: 'SKU-1', state: 'in_stock', available: 3 }], at: 0 })
  }
  return respond(404, { error: { code: 'not_found', message: path } })
}

let stub: Stub
let pairsFile: string
let lib: Any

beforeAll(async () => {
  lib = await import(pathToFileURL(join(K6_DIR, 'lib.js')).href)
  const dir = mkdtempSync(join(tmpdir(), 'k6-'))
  pairsFile = join(dir, 'pairs.json')
  // Real pairs, but with MACs that never start with "A", so the fake server can tell forgeries apart.
  const pairs = mintRedemptions({ ...SECRETS, saleId: 'drop-1', count: 200 }).filter(
    (p) => !p.token.includes('.A') && !p.grant.includes('.A'),
  )
  writeFileSync(pairsFile, JSON.stringify(pairs))
})

afterAll(() => {
  delete (globalThis as Any).__k6stub
  delete (globalThis as Any).__ENV
  delete (globalThis as Any).open
})

/** Bundles a k6 script in memory as one ES module for a runtime with no Node APIs. */
const bundleScript = (file: string, options: Pick<BuildOptions, 'plugins' | 'metafile' | 'external'>) =>
  build({
    entryPoints: [join(K6_DIR, file)],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    write: false,
    logLevel: 'silent',
    ...options,
  })

async function loadScript(file: string, env: Record<string, string> = {}): Promise<Any> {
  stub = {
    metrics: new Map(),
    checks: [],
    requests: [],
    route: fakeServer,
    exec: { vu: { idInTest: 1 }, scenario: { iterationInTest: 0 } },
  }
  Object.assign(globalThis as Any, {
    __k6stub: stub,
    __ENV: { SALE_ID: 'drop-1', PAIRS_FILE: pairsFile, ...env },
    open: (path: string) => (require('node:fs') as typeof import('node:fs')).readFileSync(path, 'utf8'),
  })
  const out = await bundleScript(file, { plugins: [k6Stubs] })
  const code = out.outputFiles[0]!.text
  return import(`data:text/javascript;base64,${Buffer.from(`${code}\n// ${Math.random()}`).toString('base64')}`)
}

describe('k6 scripts', () => {
  it('should find the four scenarios', () => {
    expect(SCRIPTS.sort()).toEqual(['browse.js', 'redeem-storm.js', 'shoppers.js', 'spike.js'])
  })

  describe.each(SCRIPTS)('%s', (file) => {
    it('should import only k6 modules and ./lib.js, no Node APIs', async () => {
      const out = await bundleScript(file, { metafile: true, external: ['k6', 'k6/*'] })
      const imports = Object.values(out.metafile!.inputs).flatMap((input) => input.imports.map((i) => i.path))
      for (const path of imports) expect(K6_MODULES.has(path) || path.endsWith('bench/k6/lib.js'), path).toBe(true)
      expect(imports.some((p) => p.endsWith('bench/k6/lib.js'))).toBe(true)
    })

    it('should declare open-model scenarios with existing exec functions and invariant thresholds', async () => {
      const mod = await loadScript(file)
      const { options } = mod
      const scenarios = Object.values(options.scenarios) as Any[]
      expect(scenarios.length).toBeGreaterThan(0)
      for (const s of scenarios) {
        expect(['constant-arrival-rate', 'ramping-arrival-rate']).toContain(s.executor)
        expect(typeof mod[s.exec]).toBe('function')
        expect(s.maxVUs).toBeGreaterThanOrEqual(s.preAllocatedVUs)
        if (s.stages) expect(s.stages[0].duration).toMatch(/^\d+s$/)
      }
      expect(options.thresholds.oversold).toEqual(['count==0'])
      expect(options.thresholds.duplicate_orders).toEqual(['count==0'])
      expect(options.thresholds.invariant_ok).toEqual(['rate==1'])
      expect(options.thresholds.dropped_iterations).toEqual(['count<=0'])
      for (const key of Object.keys(options.thresholds)) {
        const metric = key.split('{')[0]!
        expect(BUILTIN_METRICS.has(metric) || stub.metrics.has(metric), `threshold on unknown metric ${metric}`).toBe(
          true,
        )
      }
      expect(typeof mod.teardown).toBe('function')
    })

    it('should run one iteration of every scenario and record the invariants at teardown', async () => {
      const mod = await loadScript(file, { REPLAY_SHARE: '0.3', FORGED_SHARE: '0.3' })
      for (const s of Object.values(mod.options.scenarios) as Any[]) {
        for (let i = 0; i < 20; i++) {
          stub.exec.scenario.iterationInTest = i
          mod[s.exec]()
        }
      }
      expect(stub.requests.length).toBeGreaterThan(0)
      expect(stub.checks.filter((c) => !c.ok)).toEqual([])
      mod.teardown()
      expect(stub.metrics.get('oversold')!.samples).toEqual([{ value: 0, tags: undefined }])
      expect(stub.metrics.get('duplicate_orders')!.samples).toEqual([{ value: 0, tags: undefined }])
      expect(stub.metrics.get('invariant_ok')!.samples).toEqual([{ value: 1, tags: undefined }])
      if (file === 'redeem-storm.js') {
        expect(stub.metrics.get('forged_accepted')!.samples).toEqual([])
        const kinds = new Set(
          stub.requests.filter((r) => r.params.tags.name === 'redeem').map((r) => r.params.tags.kind),
        )
        expect([...kinds].sort()).toEqual(['forged', 'fresh', 'replay'])
      }
      if (file === 'browse.js') {
        // Every part of the mix, deterministically: Math.random walks 0, 0.01, ..., 0.99.
        const real = Math.random
        let step = 0
        Math.random = () => (step++ % 100) / 100
        try {
          stub.requests.length = 0
          for (let i = 0; i < 100; i++) mod.browse()
        } finally {
          Math.random = real
        }
        const kinds = new Set(stub.requests.map((r) => new URL(r.url).pathname.split('/').slice(0, 2).join('/') || '/'))
        expect([...kinds].sort()).toEqual(['/', '/api', '/c', '/p', '/search'])
        expect(stub.requests.some((r) => r.url.includes('/api/availability?skus=SKU-1'))).toBe(true)
        expect(stub.requests.some((r) => r.url.endsWith('/p/no-such-product-k6'))).toBe(true)
        expect(stub.checks.filter((c) => !c.ok)).toEqual([])
        expect(stub.metrics.get('cache_hit')!.samples.every((x) => x.value === 1)).toBe(true)
      }
      if (file === 'shoppers.js') {
        expect(stub.requests.map((r) => new URL(r.url).pathname.split('/').pop()).slice(0, 4)).toEqual([
          'join',
          'status',
          'redeem',
          `ord_${'a'.repeat(32)}`,
        ])
        expect(stub.metrics.get('shopper_outcomes')!.samples[0]!.tags).toEqual({ outcome: 'confirmed' })
      }
    })
  })
})

describe('k6 lib helpers', () => {
  it('should jitter refreshMs within ±20%', () => {
    expect(lib.jitteredMs(1000, 0.2, () => 0)).toBe(800)
    expect(lib.jitteredMs(1000, 0.2, () => 0.999999)).toBe(1200)
    expect(lib.jitteredMs(undefined, 0.2, () => 0.5)).toBe(1000)
  })

  it('should ramp 0 → rate in the given seconds, then hold and come down', () => {
    expect(lib.spikeStages(500, 10, 30, 5)).toEqual([
      { target: 500, duration: '10s' },
      { target: 500, duration: '30s' },
      { target: 0, duration: '5s' },
    ])
  })

  it('should read numbers from the environment and refuse garbage', () => {
    expect(lib.envNumber({ RATE: '250' }, 'RATE', 1)).toBe(250)
    expect(lib.envNumber({}, 'RATE', 1)).toBe(1)
    expect(() => lib.envNumber({ RATE: 'fast' }, 'RATE', 1)).toThrow(/RATE/)
  })

  it('should forge tokens and grants that core refuses for their signature', async () => {
    const [pair] = mintRedemptions({ ...SECRETS, saleId: 'drop-1', count: 1 })
    const forgedToken = lib.forgeSignature(pair!.token)
    expect(forgedToken).not.toBe(pair!.token)
    expect(forgedToken.length).toBe(pair!.token.length)
    expect(await verifyPurchaseToken(forgedToken, SECRETS.tokenSecret)).toEqual({
      ok: false,
      code: 'token_bad_signature',
    })
    const token = await verifyPurchaseToken(pair!.token, SECRETS.tokenSecret)
    expect(token.ok).toBe(true)
  })

  it('should judge redeem answers: forged never accepted, replays never a second unit', () => {
    expect(lib.judgeRedeem('forged', 403, null)).toEqual({ ok: true, accepted: false })
    expect(lib.judgeRedeem('forged', 202, { orderId: 'x' })).toEqual({ ok: false, accepted: true })
    expect(lib.judgeRedeem('fresh', 202, { orderId: 'x' })).toEqual({ ok: true, accepted: true })
    expect(lib.judgeRedeem('replay', 409, null)).toEqual({ ok: true, accepted: false })
    expect(lib.judgeRedeem('fresh', 500, null).ok).toBe(false)
    expect(lib.judgeRedeem('replay', 429, null)).toEqual({ ok: true, accepted: false })
    expect(lib.judgeRedeem('fresh', 429, null).ok).toBe(false)
  })

  it('should split the storm by the configured shares', () => {
    expect(lib.pickRedeemKind(() => 0.01, 0.1, 0.05)).toBe('forged')
    expect(lib.pickRedeemKind(() => 0.1, 0.1, 0.05)).toBe('replay')
    expect(lib.pickRedeemKind(() => 0.5, 0.1, 0.05)).toBe('fresh')
  })

  it('should make Idempotency-Keys core accepts', () => {
    expect(lib.idempotencyKey(12, 345)).toMatch(IDEMPOTENCY_KEY_PATTERN)
  })

  it('should count oversold units and duplicate orders from the invariant report', () => {
    expect(lib.invariantFindings(INVARIANT)).toEqual({
      readable: true,
      ok: true,
      oversold: 0,
      duplicates: 0,
      pending: 0,
    })
    const bad = {
      ...INVARIANT,
      ok: false,
      postgres: { ...INVARIANT.postgres, confirmed: 12, soldCounter: 12, tokensWithTwoConfirmedOrders: 1, pending: 2 },
    }
    expect(lib.invariantFindings(bad)).toEqual({ readable: true, ok: false, oversold: 2, duplicates: 1, pending: 2 })
    expect(lib.invariantFindings(null).readable).toBe(false)
  })

  it('should mint pairs whose grant binds the pair session', async () => {
    const [pair] = mintRedemptions({ ...SECRETS, saleId: 'drop-1', count: 1 })
    const token = await verifyPurchaseToken(pair!.token, SECRETS.tokenSecret)
    if (!token.ok) throw new Error('token')
    const { shopperOf } = await import('../../contracts/index.ts')
    const grant = await verifyGrant(pair!.grant, SECRETS.grantSecret, {
      token: token.payload,
      shopper: await shopperOf(pair!.session),
      nowMs: Date.now(),
    })
    expect(grant.ok).toBe(true)
  })
})
