import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  MAX_TOKENS_PER_BATCH,
  Sale,
  base64urlEncode,
  peekPurchaseToken,
  signPurchaseToken,
  verifyPurchaseToken,
} from '../contracts/index.ts'
import { loadConfig } from '../core/config.ts'
import { startTestCore, type TestCore } from '../test/support/core.ts'
import { uniqueName } from '../test/support/services.ts'
import { RoomDouble } from '../test/support/room-double.ts'
import {
  IssuerConfigError,
  IssuerError,
  createSale,
  issuerConfig,
  purchaseTokens,
  saleStatus,
  tokenId,
  type CreateSaleInput,
  type CreateSaleProgress,
  type IssuerConfig,
} from './issuer.ts'

const EDGE_ADMIN_TOKEN = 'edge-admin-token-for-issuer-tests'

let core: TestCore
let edge: RoomDouble
let cfg: IssuerConfig

beforeAll(async () => {
  core = await startTestCore({}, { listen: true })
})
afterAll(async () => {
  await core?.destroy()
})
beforeEach(async () => {
  edge = await new RoomDouble(EDGE_ADMIN_TOKEN).start()
  cfg = issuerConfig({
    CORE_URL: core.url,
    CORE_ADMIN_TOKEN: core.config.CORE_ADMIN_TOKEN,
    EDGE_URL: edge.url,
    EDGE_ADMIN_TOKEN,
    TOKEN_SECRET: core.config.TOKEN_SECRET,
  })
})
afterEach(async () => {
  await edge?.close()
})

function saleInput(overrides: Partial<CreateSaleInput> = {}): CreateSaleInput {
  return {
    saleId: uniqueName('sale-'),
    sku: 'SKU-42',
    name: 'Limited sneaker',
    priceCents: 12_900,
    stock: 25,
    startsAt: new Date(Date.now() + 60_000).toISOString(),
    ...overrides,
  }
}

async function coreSale(saleId: string): Promise<Sale> {
  const res = await fetch(`${core.url}/admin/sales/${saleId}`, {
    headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}` },
  })
  expect(res.status).toBe(200)
  return Sale.parse(await res.json())
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  )
}

describe('createSale', () => {
  describe('when the sale is new', () => {
    it('should store the sale in core and seed its Redis counters', async () => {
      const input = saleInput({ stock: 40, perShopperLimit: 2, tokenTtlSeconds: 120, holdTtlSeconds: 90 })

      const result = await createSale(cfg, input)

      const stored = await coreSale(input.saleId)
      expect(stored).toMatchObject({
        saleId: input.saleId,
        sku: 'SKU-42',
        stock: 40,
        perShopperLimit: 2,
        tokenTtlSeconds: 120,
        holdTtlSeconds: 90,
        currency: 'USD',
      })
      expect(Date.parse(stored.startsAt)).toBe(Date.parse(input.startsAt))
      expect(result.sale).toEqual(stored)
      expect(result.created).toBe(true)
      expect(await core.scripts.counters(input.saleId)).toEqual({ stock: 40, available: 40, held: 0, sold: 0 })
    })

    it("should load exactly stock tokens, each verifying with core's TOKEN_SECRET under a unique id", async () => {
      const input = saleInput({ stock: 1234 })

      const result = await createSale(cfg, input, { batchSize: 500 })

      const tokens = edge.tokens(input.saleId)
      expect(tokens).toHaveLength(1234)
      expect(result).toMatchObject({ tokensGenerated: 1234, tokensLoaded: 1234, duplicates: 0 })
      expect(result.room.tokensLoaded).toBe(1234)
      const iat = Math.floor(Date.parse(result.sale.createdAt) / 1000)
      const tids = new Set<string>()
      for (const token of tokens) {
        const verified = await verifyPurchaseToken(token, core.config.TOKEN_SECRET, { saleId: input.saleId })
        if (!verified.ok) expect.fail(`token did not verify: ${verified.code}`)
        expect(verified.payload.iat).toBe(iat)
        tids.add(verified.payload.tid)
      }
      expect(tids.size).toBe(1234)
      expect(edge.requests.filter((r) => r.startsWith('POST'))).toHaveLength(3)
    })

    it("should configure the room with the sale's start, its token ttl and the admit rate", async () => {
      const input = saleInput({ tokenTtlSeconds: 45, admitPerMinute: 250 })

      const result = await createSale(cfg, input)

      expect(edge.room(input.saleId).config).toEqual({
        shards: 1,
        prequeueOrder: 'shuffle',
        saleId: input.saleId,
        startsAt: result.sale.startsAt,
        admitPerMinute: 250,
        tokenTtlSeconds: 45,
      })
      expect(result.roomConfig.admitPerMinute).toBe(250)
      expect(result.room.configured).toBe(true)
    })

    it('should admit 1000 shoppers per minute unless told otherwise', async () => {
      const input = saleInput()

      await createSale(cfg, input)

      expect(edge.room(input.saleId).config?.admitPerMinute).toBe(1000)
    })

    it('should report progress until every token is uploaded', async () => {
      const input = saleInput({ stock: 120 })
      const seen: CreateSaleProgress[] = []

      await createSale(cfg, input, { batchSize: 50, onProgress: (p) => seen.push(p) })

      const uploads = seen.filter((p) => p.phase === 'tokens').map((p) => p.uploaded)
      expect(uploads).toEqual([...uploads].sort((a, b) => a - b))
      expect(new Set(uploads)).toEqual(new Set([0, 50, 100, 120]))
      expect(seen.at(-1)).toEqual({
        phase: 'done',
        total: 120,
        generated: 120,
        uploaded: 120,
        loaded: 120,
        duplicates: 0,
      })
      expect(seen.map((p) => p.phase).filter((p, i, all) => p !== all[i - 1])).toEqual([
        'sale',
        'room',
        'tokens',
        'verify',
        'done',
      ])
    })

    it('should never send more than MAX_TOKENS_PER_BATCH tokens in one upload', async () => {
      const input = saleInput({ stock: MAX_TOKENS_PER_BATCH + 1 })

      await createSale(cfg, input, { batchSize: MAX_TOKENS_PER_BATCH * 10 })

      expect(edge.requests.filter((r) => r.startsWith('POST'))).toHaveLength(2)
      expect(edge.tokens(input.saleId)).toHaveLength(MAX_TOKENS_PER_BATCH + 1)
    })
  })

  describe('when create runs again for the same sale', () => {
    it('should re-send the same tokens, all counted as duplicates, and mint no extra stock', async () => {
      const input = saleInput({ stock: 60 })
      await createSale(cfg, input, { batchSize: 25 })
      const first = edge.tokens(input.saleId)
      await sleep(1100) // a later second: tokens must not depend on the clock

      const again = await createSale(cfg, input, { batchSize: 25 })

      expect(again).toMatchObject({ created: false, tokensGenerated: 60, tokensLoaded: 0, duplicates: 60 })
      expect(again.room.tokensLoaded).toBe(60)
      expect(edge.tokens(input.saleId)).toEqual(first)
      const sentAgain = edge.uploads.slice(-3).flatMap((u) => u.tokens)
      expect(sentAgain).toEqual(first) // byte for byte: same ids, same iat, same signatures
      expect(await core.scripts.counters(input.saleId)).toEqual({ stock: 60, available: 60, held: 0, sold: 0 })
    })
  })

  describe('when an earlier run died halfway through the upload', () => {
    it('should finish on re-run with exactly stock tokens', async () => {
      const input = saleInput({ stock: 100 })
      edge.failTokenUpload = 3

      const error = await rejection(createSale(cfg, input, { batchSize: 20 }))
      expect(error).toBeInstanceOf(IssuerError)
      expect(error).toMatchObject({ service: 'edge', status: 503, code: 'unavailable' })
      const before = edge.tokens(input.saleId).length
      expect(before).toBeGreaterThan(0)
      expect(before).toBeLessThan(100)

      const resumed = await createSale(cfg, input, { batchSize: 20 })

      expect(resumed).toMatchObject({ tokensLoaded: 100 - before, duplicates: before })
      expect(edge.tokens(input.saleId)).toHaveLength(100)
    })
  })

  describe('when a different sale already uses the id', () => {
    it('should fail with sale_exists from core and upload nothing', async () => {
      const original = saleInput({ stock: 10 })
      const res = await fetch(`${core.url}/admin/sales`, {
        method: 'POST',
        headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(original),
      })
      expect(res.status).toBe(201)

      const error = await rejection(createSale(cfg, { ...original, stock: 11 }))

      expect(error).toBeInstanceOf(IssuerError)
      expect(error).toMatchObject({ service: 'core', status: 409, code: 'sale_exists', field: 'stock' })
      expect(edge.requests).toEqual([])
      expect(edge.tokens(original.saleId)).toEqual([])
    })
  })

  describe('when the room already holds a token this sale did not mint', () => {
    it('should fail with token_count_mismatch', async () => {
      const input = saleInput({ stock: 5 })
      const stray = await signPurchaseToken(
        { sale: input.saleId, tid: 'stray-token-id-0000000', iat: 1 },
        core.config.TOKEN_SECRET,
      )
      edge.room(input.saleId).tokens.set('stray-token-id-0000000', stray)

      const error = await rejection(createSale(cfg, input))

      expect(error).toBeInstanceOf(IssuerError)
      expect(error).toMatchObject({ service: 'edge', code: 'token_count_mismatch' })
      expect((error as Error).message).toContain('holds 6 tokens')
    })
  })

  describe("when the edge's admin token is wrong", () => {
    it('should fail with unauthorized from the edge, naming EDGE_ADMIN_TOKEN', async () => {
      const error = await rejection(createSale({ ...cfg, EDGE_ADMIN_TOKEN: 'not-the-edge-admin-token' }, saleInput()))

      expect(error).toBeInstanceOf(IssuerError)
      expect(error).toMatchObject({ service: 'edge', status: 401, code: 'unauthorized' })
      expect((error as Error).message).toContain('EDGE_ADMIN_TOKEN')
    })
  })

  describe('when core is not running', () => {
    it('should fail with unreachable, naming the URL and CORE_URL', async () => {
      const url = `http://127.0.0.1:${await closedPort()}`

      const error = await rejection(createSale({ ...cfg, CORE_URL: url }, saleInput()))

      expect(error).toBeInstanceOf(IssuerError)
      expect(error).toMatchObject({ service: 'core', status: null, code: 'unreachable' })
      expect((error as Error).message).toContain(url)
      expect((error as Error).message).toContain('CORE_URL')
    })
  })

  describe('when the input is invalid', () => {
    it('should throw before calling any service', async () => {
      await expect(createSale(cfg, saleInput({ stock: 0 }))).rejects.toThrow(/stock/)
      await expect(createSale(cfg, saleInput({ admitPerMinute: 0 }))).rejects.toThrow(/admitPerMinute/)
      expect(edge.requests).toEqual([])
    })
  })
})

describe('saleStatus', () => {
  describe('when the sale was created', () => {
    it("should return core's sale and invariant with the room's stats", async () => {
      const input = saleInput({ stock: 7 })
      await createSale(cfg, input)

      const status = await saleStatus(cfg, input.saleId)

      expect(status.sale.saleId).toBe(input.saleId)
      expect(status.invariant).toMatchObject({
        saleId: input.saleId,
        stock: 7,
        ok: true,
        redis: { available: 7, held: 0, sold: 0 },
      })
      expect(status.room).toMatchObject({ saleId: input.saleId, configured: true, tokensLoaded: 7 })
    })
  })

  describe('when core has no such sale', () => {
    it('should fail with sale_not_found', async () => {
      await expect(saleStatus(cfg, uniqueName('nosale-'))).rejects.toMatchObject({
        service: 'core',
        status: 404,
        code: 'sale_not_found',
      })
    })
  })
})

describe('tokenId', () => {
  describe('when derived', () => {
    it('should be the first 22 chars of base64url(HMAC-SHA256(secret, "saleId:index"))', async () => {
      const secret = 'a-secret-for-the-token-id-test-0123456789'
      const key = await crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['sign'],
      )
      const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode('drop-1:41')))

      expect(tokenId(secret, 'drop-1', 41)).toBe(base64urlEncode(mac).slice(0, 22))
      expect(tokenId(secret, 'drop-1', 41)).not.toBe(tokenId(secret, 'drop-1', 42))
      expect(tokenId(secret, 'drop-1', 41)).not.toBe(tokenId(`${secret}x`, 'drop-1', 41))
    })
  })

  describe('when the same range is generated twice', () => {
    it('should produce byte-identical tokens', async () => {
      const sale = { saleId: 'drop-1', createdAt: '2026-01-01T00:00:00.000Z' }
      const a = await purchaseTokens(core.config.TOKEN_SECRET, sale, 5, 10)
      const b = await purchaseTokens(core.config.TOKEN_SECRET, sale, 5, 10)

      expect(a).toHaveLength(5)
      expect(a).toEqual(b)
      expect(peekPurchaseToken(a[0]!)).toEqual({
        typ: 'pt',
        sale: 'drop-1',
        tid: tokenId(core.config.TOKEN_SECRET, 'drop-1', 5),
        iat: 1767225600,
      })
    })
  })
})

describe('issuerConfig', () => {
  describe('when nothing is set', () => {
    it("should use core's development secrets and local URLs", () => {
      const defaults = loadConfig({})

      expect(issuerConfig({})).toEqual({
        NODE_ENV: 'development',
        CORE_URL: 'http://127.0.0.1:3000',
        CORE_ADMIN_TOKEN: defaults.CORE_ADMIN_TOKEN,
        EDGE_URL: defaults.EDGE_URL,
        EDGE_ADMIN_TOKEN: defaults.EDGE_ADMIN_TOKEN,
        TOKEN_SECRET: defaults.TOKEN_SECRET,
      })
    })
  })

  describe('when a variable is empty', () => {
    it('should treat it as unset', () => {
      expect(issuerConfig({ CORE_URL: '' }).CORE_URL).toBe('http://127.0.0.1:3000')
    })
  })

  describe('when NODE_ENV is production and the secrets are the development ones', () => {
    it('should refuse, naming each secret', () => {
      let error: unknown
      try {
        issuerConfig({ NODE_ENV: 'production', TOKEN_SECRET: 'x'.repeat(40) })
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(IssuerConfigError)
      expect((error as IssuerConfigError).issues.map((i) => i.variable)).toEqual([
        'CORE_ADMIN_TOKEN',
        'EDGE_ADMIN_TOKEN',
      ])
    })
  })

  describe('when a URL is not http', () => {
    it('should refuse it', () => {
      expect(() => issuerConfig({ EDGE_URL: 'not a url' })).toThrow(/EDGE_URL/)
      expect(() => issuerConfig({ CORE_URL: 'ftp://127.0.0.1/' })).toThrow(/CORE_URL/)
    })
  })
})
