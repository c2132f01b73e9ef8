import type { RoomResult } from '../waiting-room/waiting-room.ts'
import type { Env } from './env.ts'
import { apiError } from './http-error.ts'

/** The sale's WaitingRoom stub: one Durable Object per sale id. */
export function roomOf(env: Env, saleId: string) {
  return env.WAITING_ROOM.get(env.WAITING_ROOM.idFromName(saleId))
}

/** A room's RPC result, or the HTTP error it stands for. */
export function unwrap<T>(result: RoomResult<T>): T {
  if (result.ok) return result.value
  throw apiError(result.error.code, result.error.message, result.error.field)
}
