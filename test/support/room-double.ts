/**
 * The one stand-in for the edge's admin API, over real HTTP: what the token-issuer calls (its own tests),
 * and where core reports token outcomes (core's tests and the failure drills, which re-issue returned tokens
 * from `onOutcome`). It validates like the edge does (contract schemas, Bearer token, JSON content type, body
 * size, all-or-nothing token batches deduplicated by token id) and keeps everything in memory. The real edge
 * and waiting room are covered by the end-to-end tests.
 *
 *   PUT  /admin/sales/:saleId/room            RoomConfig          -> the stored config
 *   POST /admin/sales/:saleId/tokens          LoadTokensRequest   -> LoadTokensResponse
 *   GET  /admin/sales/:saleId/room                                -> RoomStats
 *   PATCH /admin/sales/:saleId/room           RoomSteer           -> RoomStats (mode, rate and cap remembered)
 *   GET  /admin/sales/:saleId/room/report                         -> RoomReport (set one with `setReport`)
 *   POST /admin/sales/:saleId/tokens/outcomes TokenOutcomesRequest -> { applied } (recorded in `outcomes`)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { z } from 'zod'
import { loadConfig } from '../../core/config.ts'
import {
  LoadTokensRequest,
  MAX_ADMIN_BODY_BYTES,
  RoomConfig,
  RoomSteer,
  SaleId,
  describeZodError,
  errorBody,
  peekPurchaseToken,
  type ErrorCode,
  type LoadTokensResponse,
  type RoomReport,
  type RoomStats,
  TokenOutcomesRequest,
  type TokenOutcome,
} from '../../contracts/index.ts'

type StoredConfig = z.output<typeof RoomConfig>

interface DoubleRoom {
  config: StoredConfig | null
  /** tid -> token, in load order. */
  tokens: Map<string, string>
  /** Live steering received (PATCH), merged. */
  steer: { mode: 'open' | 'paused' | 'queue_all'; admitPerMinute?: number; maxActive?: number | null }
  report?: RoomReport
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message)
  }
}

const ROUTE = /^\/admin\/sales\/([^/]+)\/(room|tokens|room\/report|tokens\/outcomes)$/

export class RoomDouble {
  readonly rooms = new Map<string, DoubleRoom>()
  /** Every request, e.g. `PUT /admin/sales/s1/room`, in arrival order. */
  readonly requests: string[] = []
  /** Every steering body received (PATCH room), in arrival order. */
  readonly steers: Array<{ saleId: string; steer: RoomSteer }> = []
  /** Every token batch received (before validation), in arrival order. */
  readonly uploads: Array<{ saleId: string; tokens: string[] }> = []
  /** Answer 503 `unavailable` to token upload number n (1-based, counted across sales), to simulate a crash mid-upload. */
  failTokenUpload?: number
  /** Every token outcome core reported, in arrival order. */
  readonly outcomes: Array<{ saleId: string } & TokenOutcome> = []
  /** Called with each outcome as it arrives (the drills hand returned tokens to the next shopper here). */
  onOutcome: (saleId: string, outcome: TokenOutcome) => void = () => {}
  private tokenUploads = 0
  private server?: Server
  url = ''

  /** `adminToken`: the bearer token core and token-issuer send (default: the development EDGE_ADMIN_TOKEN). */
  constructor(readonly adminToken: string = loadConfig({}).EDGE_ADMIN_TOKEN) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res))
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
    return this
  }

  close(): Promise<void> {
    this.server?.closeAllConnections()
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  room(saleId: string): DoubleRoom {
    let room = this.rooms.get(saleId)
    if (!room) this.rooms.set(saleId, (room = { config: null, tokens: new Map(), steer: { mode: 'open' } }))
    return room
  }

  /** What `GET /admin/sales/:saleId/room/report` answers for a sale. */
  setReport(saleId: string, report: RoomReport): void {
    this.room(saleId).report = report
  }

  /** The tokens loaded for a sale, in load order. */
  tokens(saleId: string): string[] {
    return [...(this.rooms.get(saleId)?.tokens.values() ?? [])]
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://double').pathname
    this.requests.push(`${req.method} ${path}`)
    try {
      const match = ROUTE.exec(path)
      if (!match) throw new HttpError(404, 'not_found', `no route ${req.method} ${path}`)
      const auth = req.headers.authorization ?? ''
      if (!auth.startsWith('Bearer ') || auth.slice('Bearer '.length).trim() !== this.adminToken) {
        throw new HttpError(401, 'unauthorized', 'admin token is not valid', 'authorization')
      }
      const saleId = SaleId.safeParse(decodeURIComponent(match[1]!))
      if (!saleId.success)
        throw new HttpError(400, 'invalid_path', 'sale id must be 1-63 chars of a-z, 0-9 and "-"', 'saleId')
      const route = `${req.method} ${match[2]}`
      if (route === 'PUT room')
        return this.send(res, 200, this.configure(saleId.data, await this.body(req, RoomConfig)))
      if (route === 'GET room') return this.send(res, 200, this.stats(saleId.data))
      if (route === 'PATCH room')
        return this.send(res, 200, this.steerRoom(saleId.data, await this.body(req, RoomSteer)))
      if (route === 'GET room/report') return this.send(res, 200, this.report(saleId.data))
      if (route === 'POST tokens')
        return this.send(res, 200, this.load(saleId.data, await this.body(req, LoadTokensRequest)))
      if (route === 'POST tokens/outcomes') {
        const { outcomes } = await this.body(req, TokenOutcomesRequest)
        for (const outcome of outcomes) {
          this.outcomes.push({ saleId: saleId.data, ...outcome })
          this.onOutcome(saleId.data, outcome)
        }
        return this.send(res, 200, { applied: outcomes.length })
      }
      throw new HttpError(404, 'not_found', `no route ${req.method} ${path}`)
    } catch (error) {
      if (error instanceof HttpError)
        return this.send(res, error.status, errorBody(error.code, error.message, error.field))
      this.send(res, 500, errorBody('internal', String(error)))
    }
  }

  private configure(saleId: string, config: StoredConfig): StoredConfig {
    if (config.saleId !== saleId)
      throw new HttpError(
        400,
        'invalid_body',
        `saleId in the body (${config.saleId}) must match the path (${saleId})`,
        'saleId',
      )
    this.room(saleId).config = config
    return config
  }

  private load(saleId: string, { tokens }: LoadTokensRequest): LoadTokensResponse {
    this.tokenUploads++
    this.uploads.push({ saleId, tokens })
    if (this.tokenUploads === this.failTokenUpload) throw new HttpError(503, 'unavailable', 'simulated outage')
    const parsed = tokens.map((token, i) => {
      const payload = peekPurchaseToken(token)
      if (!payload) throw new HttpError(400, 'invalid_body', `tokens.${i}: not a purchase token`, `tokens.${i}`)
      if (payload.sale !== saleId)
        throw new HttpError(
          400,
          'invalid_body',
          `tokens.${i}: token is for sale ${payload.sale}, not ${saleId}`,
          `tokens.${i}`,
        )
      return { tid: payload.tid, token }
    })
    const room = this.room(saleId)
    let loaded = 0
    let duplicates = 0
    for (const { tid, token } of parsed) {
      if (room.tokens.has(tid)) duplicates++
      else {
        room.tokens.set(tid, token)
        loaded++
      }
    }
    return { saleId, loaded, duplicates, total: room.tokens.size }
  }

  private stats(saleId: string): RoomStats {
    const room = this.rooms.get(saleId)
    const loaded = room?.tokens.size ?? 0
    const base = {
      saleId,
      configured: !!room?.config,
      tokensLoaded: loaded,
      available: loaded,
      granted: 0,
      redeemed: 0,
      sold: 0,
      queued: 0,
      admitted: 0,
      recycled: 0,
    }
    if (!room?.config) return base
    const { mode, admitPerMinute, maxActive } = room.steer
    return {
      ...base,
      shards: room.config.shards,
      mode,
      admitPerMinute: admitPerMinute ?? room.config.admitPerMinute,
      maxActive: maxActive === undefined ? (room.config.maxActive ?? null) : maxActive,
    }
  }

  private steerRoom(saleId: string, steer: RoomSteer): RoomStats {
    const room = this.rooms.get(saleId)
    if (!room?.config)
      throw new HttpError(404, 'room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    this.steers.push({ saleId, steer })
    room.steer = { ...room.steer, ...steer, mode: steer.mode ?? room.steer.mode }
    return this.stats(saleId)
  }

  private report(saleId: string): RoomReport {
    const room = this.rooms.get(saleId)
    if (!room?.config)
      throw new HttpError(404, 'room_not_configured', `the waiting room for sale ${saleId} is not configured yet`)
    return (
      room.report ?? {
        saleId,
        shards: room.config.shards,
        startsAt: room.config.startsAt,
        commitment: null,
        seed: null,
        joined: 0,
        admitted: 0,
        prequeue: [],
        issuance: [],
      }
    )
  }

  private async body<S extends z.ZodType>(req: IncomingMessage, schema: S): Promise<z.output<S>> {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json', 'content-type')
    }
    let size = 0
    const chunks: Buffer[] = []
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_ADMIN_BODY_BYTES)
        throw new HttpError(413, 'body_too_large', `body is larger than ${MAX_ADMIN_BODY_BYTES} bytes`)
      chunks.push(chunk)
    }
    let json: unknown
    try {
      json = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      throw new HttpError(400, 'invalid_json', 'body is not valid JSON')
    }
    const parsed = schema.safeParse(json)
    if (!parsed.success) {
      const { field, message } = describeZodError(parsed.error)
      throw new HttpError(400, 'invalid_body', message, field || undefined)
    }
    return parsed.data
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
}
