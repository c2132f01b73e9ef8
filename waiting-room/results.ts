/**
 * What the room's RPC methods answer. Expected failures are values (error classes do not survive RPC);
 * bugs still throw. The edge turns a failure into its HTTP error (`unwrap` in edge/rooms.ts).
 */
import type { ErrorCode } from '../contracts/index.ts'

export type RoomError = { code: ErrorCode; message: string; field?: string }
export type RoomResult<T> = { ok: true; value: T } | { ok: false; error: RoomError }

export const ok = <T>(value: T): RoomResult<T> => ({ ok: true, value })

export const fail = <T>(code: ErrorCode, message: string, field?: string): RoomResult<T> => ({
  ok: false,
  error: field === undefined ? { code, message } : { code, message, field },
})
