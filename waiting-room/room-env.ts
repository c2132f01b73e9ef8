/**
 * What the waiting room needs from the Worker that hosts it. The room declares it here instead of importing
 * the edge's `Env` (generated from wrangler.toml), so the room depends on nothing but contracts and its own
 * files; edge/env.ts checks at compile time that the generated bindings provide all of it.
 */
import type { WaitingRoom } from './waiting-room.ts'

export interface RoomEnv {
  /** The room's own namespace: a shard reaches its siblings through it (`shardName`). */
  WAITING_ROOM: DurableObjectNamespace<WaitingRoom>
  /** Base URL of the Node core, no trailing slash: grant expiry goes there. */
  CORE_URL: string
  /** Bearer token for core's `/internal/*` routes. */
  CORE_INTERNAL_TOKEN: string
  /** HMAC secret of grants (`signGrant`); core holds the same one to verify them. */
  GRANT_SECRET: string
}
