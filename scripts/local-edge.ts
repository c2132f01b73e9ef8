/**
 * Runs the real edge worker (Hono + WaitingRoom Durable Object) in workerd through Miniflare, from Node.
 * Used by `npm run demo`, the end-to-end tests and the benches; `wrangler dev` runs the same worker.
 */
import { accessSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { publicKeyOf } from '../contracts/index.ts'
import { DEV_ACCESS_TOKEN_KEY } from '../core/config.ts'

export interface LocalEdgeOptions {
  coreUrl: string
  grantSecret: string
  edgeAdminToken: string
  coreInternalToken: string
  /** Public JWK (JSON) verifying account access tokens: the public half of core's ACCESS_TOKEN_KEY (default: dev). */
  accessTokenPublicKey?: string
  port?: number
  /** Edge checkout limit per client IP per second; default '0' (off) for simulated crowds. */
  redeemPerIpPerSecond?: string
  /** Edge checkout limit per shopper per second; default '0' (off) locally. */
  redeemPerShopperPerSecond?: string
  /**
   * Joins and polls per client network per second (without the Rate Limiting binding); default '0' (off):
   * simulated crowds claim their own addresses, but tests poll from this host's one.
   */
  shopperPerNetworkPerSecond?: string
  /** Open workerd's V8 inspector on this port (CPU profiles of the worker and its Durable Objects). */
  inspectorPort?: number
}

export interface LocalEdge {
  url: string
  mf: Miniflare
  dispose(): Promise<void>
}

const RAM_DISK = '/dev/shm'
const ENTRY = fileURLToPath(new URL('../edge/index.ts', import.meta.url))
let bundled: Promise<string> | undefined

/** Bundles edge/index.ts the way wrangler does: ESM, workerd conditions, `cloudflare:*` left to the runtime. */
export function bundleEdge(): Promise<string> {
  bundled ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser', 'import'],
    external: ['cloudflare:*', 'node:*'],
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0]!.text)
  return bundled
}

/**
 * A folder on a RAM disk for one edge's temporary storage, or undefined where there is none (not Linux). Folders
 * left by processes that died without disposing their edge are removed first (they hold RAM). Used by
 * `wrangler dev` in scripts/dev-stack.ts too (`--persist-to`).
 */
export function ramScratch(): string | undefined {
  try {
    accessSync(RAM_DISK, constants.W_OK)
    for (const name of readdirSync(RAM_DISK)) {
      const pid = /^floodgate-edge-(\d+)-/.exec(name)?.[1]
      if (pid !== undefined && !processAlive(Number(pid)))
        rmSync(join(RAM_DISK, name), { recursive: true, force: true })
    }
    return mkdtempSync(join(RAM_DISK, `floodgate-edge-${process.pid}-`))
  } catch {
    return undefined
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function startLocalEdge(options: LocalEdgeOptions): Promise<LocalEdge> {
  const scratch = ramScratch()
  const mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'index.mjs', contents: await bundleEdge() }],
    compatibilityDate: '2026-04-01',
    durableObjects: { WAITING_ROOM: { className: 'WaitingRoom', useSQLite: true } },
    // The room's SQLite and the page cache live for this run only: on a RAM disk where there is one. Miniflare's
    // default (a temporary folder on disk) puts every Durable Object commit through the disk, which measured
    // as the largest share of join latency under a crowd (README "Measured").
    ...(scratch ? { durableObjectsPersist: join(scratch, 'do'), cachePersist: join(scratch, 'cache') } : {}),
    bindings: {
      // A local stack with dev secrets, as .dev.vars is for `wrangler dev` (deployed, the edge refuses them).
      FLOODGATE_DEV: 'true',
      CORE_URL: options.coreUrl,
      GRANT_SECRET: options.grantSecret,
      EDGE_ADMIN_TOKEN: options.edgeAdminToken,
      CORE_INTERNAL_TOKEN: options.coreInternalToken,
      ACCESS_TOKEN_PUBLIC_KEY: options.accessTokenPublicKey ?? publicKeyOf(DEV_ACCESS_TOKEN_KEY),
      // Local runs simulate thousands of shoppers from one address: the per-IP checkout limit would only
      // measure the simulator. The per-shopper limit stays on. (Deployed: wrangler.toml's 10/s.)
      REDEEM_PER_IP_PER_SECOND: options.redeemPerIpPerSecond ?? '0',
      // The end-to-end attack test fires several refused redeems from one session within a second; the
      // per-shopper limit has its own tests in workerd (edge/waiting-room.test.ts). Off unless asked for.
      REDEEM_PER_SHOPPER_PER_SECOND: options.redeemPerShopperPerSecond ?? '0',
      SHOPPER_PER_NETWORK_PER_SECOND: options.shopperPerNetworkPerSecond ?? '0',
    },
    host: '127.0.0.1',
    port: options.port ?? 0,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
  })
  const url = (await mf.ready).toString().replace(/\/$/, '')
  let disposing: Promise<void> | undefined
  const dispose = async () => {
    await mf.dispose()
    if (scratch) rmSync(scratch, { recursive: true, force: true })
  }
  return { url, mf, dispose: () => (disposing ??= dispose()) }
}
