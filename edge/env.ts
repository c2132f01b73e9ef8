import type { RoomEnv } from '../waiting-room/room-env.ts'

/**
 * Bindings of the `floodgate-edge` Worker: `Cloudflare.Env`, generated from wrangler.toml into
 * `edge/env.generated.d.ts` by `npm run edge:types` (`npm run edge:types:check` says whether it is current).
 * Variables and secrets are typed `string`, whatever their values.
 */
export type Env = Cloudflare.Env

/** The room declares what it needs (`RoomEnv`); a wrangler.toml that stops providing it fails to compile here. */
type Provides<Needed, Given extends Needed> = Given
export type RoomBindings = Provides<RoomEnv, Env>

/**
 * Variables every route can rely on. Per-route ones come from the middleware on that route and are typed by it
 * (`SessionVariables`, `IdempotencyKeyVariables`, `JsonBodyVariables<T>`), so a handler only sees what its chain set.
 */
export type AppVariables = Record<never, never>

export type AppEnv = { Bindings: Env; Variables: AppVariables }
