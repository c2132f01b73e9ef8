import type { WaitingRoom } from '../waiting-room/waiting-room.ts'

/**
 * Bindings of the `floodgate-edge` Worker, mirroring `wrangler.toml`.
 * Hand-written: `wrangler types` would also emit the whole runtime, which `@cloudflare/workers-types` already gives us.
 */
export interface Env {
  /** One WaitingRoom per sale: `env.WAITING_ROOM.idFromName(saleId)`. */
  WAITING_ROOM: DurableObjectNamespace<WaitingRoom>
  /** Base URL of the Node core, no trailing slash, e.g. `http://127.0.0.1:3000`. */
  CORE_URL: string
  /** HMAC secret for grants (`signGrant`); core holds the same one to verify them. */
  GRANT_SECRET: string
  /** Bearer token for `/admin/*` on the edge. */
  EDGE_ADMIN_TOKEN: string
  /** Bearer token the room sends to core's `/internal/*` routes. */
  CORE_INTERNAL_TOKEN: string
  /** Redeem requests per second per client IP at the edge (default 10; 0 turns the limit off). */
  REDEEM_PER_IP_PER_SECOND?: string
  /** Redeem requests per second per shopper at the edge (default 1; 0 turns the limit off). */
  REDEEM_PER_SHOPPER_PER_SECOND?: string
}

/**
 * Variables every route can rely on. Per-route ones come from the middleware on that route and are typed by it
 * (`SessionVariables`, `IdempotencyKeyVariables`, `JsonBodyVariables<T>`), so a handler only sees what its chain set.
 */
export type AppVariables = Record<never, never>

export type AppEnv = { Bindings: Env; Variables: AppVariables }

type EdgeEnv = Env
declare global {
  namespace Cloudflare {
    // `env` from `cloudflare:workers` and `cloudflare:test` is typed with the same bindings.
    interface Env extends EdgeEnv {}
    // Types `exports` from `cloudflare:workers` (tests call `exports.default.fetch`).
    interface GlobalProps {
      mainModule: typeof import('./index.ts')
    }
  }
}
