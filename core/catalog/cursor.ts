import { z } from 'zod'
import { ApiError } from '../errors/api-error.ts'

/**
 * Opaque pagination cursors: the sort they belong to and the last row's sort key, base64url JSON. A cursor
 * from another sort, or one that does not decode, is a 400 naming `cursor`.
 */
const CursorShape = z
  .object({
    s: z.string(),
    k: z
      .array(z.union([z.number(), z.string()]))
      .min(1)
      .max(4),
  })
  .strict()

export function encodeCursor(sort: string, key: Array<number | string>): string {
  return Buffer.from(JSON.stringify({ s: sort, k: key })).toString('base64url')
}

export function decodeCursor(cursor: string | undefined, sort: string): Array<number | string> | null {
  if (cursor === undefined || cursor === '') return null
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new ApiError('invalid_query', 'cursor: not a cursor this API gave out', 'cursor')
  }
  const parsed = CursorShape.safeParse(value)
  if (!parsed.success) throw new ApiError('invalid_query', 'cursor: not a cursor this API gave out', 'cursor')
  if (parsed.data.s !== sort)
    throw new ApiError('invalid_query', `cursor: it belongs to sort ${parsed.data.s}, not ${sort}`, 'cursor')
  return parsed.data.k
}

/** The cursor's key as [number, number] (value, id), or a 400. */
export function numericKey(key: Array<number | string>): [number, number] {
  const [value, id] = key
  if (typeof value !== 'number' || typeof id !== 'number' || !Number.isFinite(value) || !Number.isInteger(id)) {
    throw new ApiError('invalid_query', 'cursor: not a cursor this API gave out', 'cursor')
  }
  return [value, id]
}

/** The cursor's key as [string, number] (value, id), or a 400. */
export function textKey(key: Array<number | string>): [string, number] {
  const [value, id] = key
  if (typeof value !== 'string' || typeof id !== 'number' || !Number.isInteger(id)) {
    throw new ApiError('invalid_query', 'cursor: not a cursor this API gave out', 'cursor')
  }
  return [value, id]
}
