import type { WaitingRoom } from '../waiting-room/waiting-room.ts'
import type { IdempotencyKeyVariables } from './middleware/idempotency-key/index.ts'
import type { SessionVariables } from './middleware/session/index.ts'

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
}

export type AppVariables = SessionVariables & IdempotencyKeyVariables

export type AppEnv = { Bindings: Env; Variables: AppVariables }

type EdgeEnv = Env
declare global {
  namespace Cloudflare {
    // `env` from `cloudflare:workers` and `cloudflare:test` is typed with the same bindings.
    interface Env extends EdgeEnv {}
  }
}
