import type { Context } from 'hono'
import type { z } from 'zod'
import { describeZodError } from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'

/**
 * Reads and validates a JSON body: 415 if it is not JSON, 413 past `maxBytes` (checked on the
 * declared length first, then on what actually arrived), 400 `invalid_json`, 400 `invalid_body`
 * naming the first offending field.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S, maxBytes: number): Promise<z.output<S>> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\b/i.test(type)) throw new ApiError('unsupported_media_type', 'send the body as application/json', 'content-type')
  const declared = Number(c.req.header('content-length') ?? '0')
  if (declared > maxBytes) throw new ApiError('body_too_large', `body is larger than ${maxBytes} bytes`)
  const text = await c.req.text()
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new ApiError('body_too_large', `body is larger than ${maxBytes} bytes`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ApiError('invalid_json', 'body is not valid JSON')
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    const { field, message } = describeZodError(parsed.error)
    throw new ApiError('invalid_body', message, field || undefined)
  }
  return parsed.data
}
