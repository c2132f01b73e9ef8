import { createMiddleware } from 'hono/factory'
import type { z } from 'zod'
import { describeZodError, MAX_BODY_BYTES, readCappedStream } from '../../../contracts/index.ts'
import { apiError } from '../../http-error.ts'

export type JsonBodyOptions<S extends z.ZodType> = {
  /** zod schema the parsed body must satisfy; its output (defaults applied) becomes `c.var.body`. */
  schema: S
  /** Largest body accepted, in bytes. Default: `MAX_BODY_BYTES` (8 KiB). */
  maxBytes?: number
}

export type JsonBodyVariables<T> = { body: T }

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i
const decoder = new TextDecoder()

/** Reads at most `maxBytes` of the body; `null` when it is longer (declared or actual). */
async function readLimited(req: Request, maxBytes: number): Promise<Uint8Array | null> {
  const declared = Number(req.headers.get('content-length') ?? Number.NaN)
  if (Number.isFinite(declared) && declared > maxBytes) return null
  return readCappedStream(req.body, maxBytes)
}

/**
 * Parses a JSON request body with a byte limit and a zod schema, and puts the result on `c.var.body`.
 * Over the limit: 413 `body_too_large`. A non-JSON content-type: 415 `unsupported_media_type`.
 * Not JSON: 400 `invalid_json`. Schema failure: 400 `invalid_body` with `field` naming the first bad path.
 *
 * @param options.schema - zod schema for the body.
 * @param options.maxBytes - byte limit. Default: `MAX_BODY_BYTES`.
 * @example
 * ```ts
 * app.put('/admin/sales/:saleId/room', jsonBody({ schema: RoomConfig, maxBytes: MAX_ADMIN_BODY_BYTES }), (c) =>
 *   c.json(c.var.body))
 * ```
 */
export const jsonBody = <S extends z.ZodType>({ schema, maxBytes = MAX_BODY_BYTES }: JsonBodyOptions<S>) =>
  createMiddleware<{ Variables: JsonBodyVariables<z.output<S>> }>(async function jsonBody(c, next) {
    const type = c.req.header('content-type')
    if (type !== undefined && !JSON_TYPE.test(type)) {
      throw apiError('unsupported_media_type', 'send the body as application/json', 'content-type')
    }
    const bytes = await readLimited(c.req.raw, maxBytes)
    if (bytes === null) throw apiError('body_too_large', `the body must be at most ${maxBytes} bytes`)
    let json: unknown
    try {
      json = JSON.parse(decoder.decode(bytes))
    } catch {
      throw apiError('invalid_json', 'the body is not valid JSON')
    }
    const parsed = schema.safeParse(json)
    if (!parsed.success) {
      const { field, message } = describeZodError(parsed.error)
      throw apiError('invalid_body', message, field || undefined)
    }
    c.set('body', parsed.data)
    await next()
  })
