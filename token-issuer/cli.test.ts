import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvariantReport, RoomStats, Sale } from '../contracts/index.ts'
import { saleKeys } from '../core/redis/keys.ts'
import { startTestCore, type TestCore } from '../test/support/core.ts'
import { uniqueName } from '../test/support/services.ts'
import { EdgeAdminDouble } from './edge-admin-double.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const EDGE_ADMIN_TOKEN = 'edge-admin-token-for-cli-tests'

let core: TestCore
let edge: EdgeAdminDouble

// One core and one edge double for the file: every CLI run is a separate process, and every test uses its own sale ids.
beforeAll(async () => {
  core = await startTestCore({}, { listen: true })
  edge = await new EdgeAdminDouble(EDGE_ADMIN_TOKEN).start()
})
afterAll(async () => {
  await core?.destroy()
  await edge?.close()
})

interface Run {
  code: number
  stdout: string
  stderr: string
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const environment = {
    ...process.env,
    CORE_URL: core.url!,
    CORE_ADMIN_TOKEN: core.config.CORE_ADMIN_TOKEN,
    EDGE_URL: edge.url,
    EDGE_ADMIN_TOKEN,
    TOKEN_SECRET: core.config.TOKEN_SECRET,
    ...env,
  }
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'token-issuer/cli.ts', ...args], { cwd: ROOT, env: environment, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

function jsonLines(stdout: string): unknown[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown)
}

function createArgs(saleId: string, { stock = 30, startsAt = '+10m' } = {}): string[] {
  return ['create', '--sale', saleId, '--sku', 'SKU-7', '--name', 'Drop seven', '--price-cents', '4999', '--stock', String(stock), '--starts-at', startsAt]
}

async function createdSale(stock = 30): Promise<string> {
  const saleId = uniqueName('cli-')
  const run = await cli([...createArgs(saleId, { stock }), '--json'])
  expect(run.code, run.stderr).toBe(0)
  return saleId
}

describe('token-issuer CLI', () => {
  describe('when asked for --help', () => {
    it('should list every command and exit 0', async () => {
      const run = await cli(['--help'])

      expect(run.code).toBe(0)
      for (const command of ['create', 'status', 'watch', 'invariant']) expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
      expect(run.stdout).toContain('--json')
    })

    it("should show a command's options", async () => {
      const run = await cli(['create', '--help'])

      expect(run.code).toBe(0)
      for (const flag of ['--sale', '--sku', '--name', '--price-cents', '--currency', '--stock', '--limit', '--token-ttl', '--hold-ttl', '--starts-at', '--admit-per-minute', '--json']) {
        expect(run.stdout).toContain(flag)
      }
    })
  })

  describe('when create runs with --json', () => {
    it('should print exactly one JSON object describing the sale and its loaded tokens', async () => {
      const saleId = uniqueName('cli-')

      const run = await cli([...createArgs(saleId, { stock: 42 }), '--limit', '2', '--admit-per-minute', '600', '--json'])

      expect(run.code, run.stderr).toBe(0)
      const lines = jsonLines(run.stdout)
      expect(lines).toHaveLength(1)
      const result = lines[0] as Record<string, unknown>
      expect(Object.keys(result).sort()).toEqual(['created', 'duplicates', 'room', 'roomConfig', 'sale', 'seconds', 'tokensGenerated', 'tokensLoaded'])
      expect(Sale.parse(result.sale)).toMatchObject({ saleId, stock: 42, perShopperLimit: 2, priceCents: 4999 })
      expect(RoomStats.parse(result.room)).toMatchObject({ saleId, tokensLoaded: 42, configured: true })
      expect(result).toMatchObject({ created: true, tokensGenerated: 42, tokensLoaded: 42, duplicates: 0, roomConfig: { admitPerMinute: 600 } })
      expect(typeof result.seconds).toBe('number')
      expect(edge.tokens(saleId)).toHaveLength(42)
      expect(run.stderr).not.toContain('tokens [')
    })
  })

  describe('when create runs again with a relative --starts-at', () => {
    it('should keep the start time core has and count every token as a duplicate', async () => {
      const saleId = uniqueName('cli-')
      const first = await cli([...createArgs(saleId, { startsAt: '+10m' }), '--json'])
      expect(first.code, first.stderr).toBe(0)

      const again = await cli([...createArgs(saleId, { startsAt: '+20m' }), '--json'])

      expect(again.code, again.stderr).toBe(0)
      const [firstResult, againResult] = [jsonLines(first.stdout)[0], jsonLines(again.stdout)[0]] as Array<{ sale: Sale }>
      expect(againResult).toMatchObject({ created: false, tokensLoaded: 0, duplicates: 30, room: { tokensLoaded: 30 } })
      expect(againResult!.sale.startsAt).toBe(firstResult!.sale.startsAt)
      expect(again.stderr).toContain('keeping its start time')
    })
  })

  describe('when create runs without --json', () => {
    it('should print a human summary and no progress bar when stderr is not a terminal', async () => {
      const saleId = uniqueName('cli-')

      const run = await cli(createArgs(saleId, { stock: 12 }))

      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain(`sale ${saleId} created in core`)
      expect(run.stdout).toContain('12 generated, 12 newly loaded, 0 already loaded; room holds 12 of 12')
      expect(run.stderr).not.toContain('tokens [')
    })
  })

  describe('when status runs', () => {
    it('should print a table of units, orders, the room and ✓ checks', async () => {
      const saleId = await createdSale(30)

      const run = await cli(['status', saleId])

      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toMatch(/^units +stock 30 +available 30 +held 0 +sold 0$/m)
      expect(run.stdout).toMatch(/^orders +confirmed 0 +pending 0 +failed 0$/m)
      expect(run.stdout).toMatch(/^room +queued 0 +admitted 0 +granted 0/m)
      expect(run.stdout).toMatch(/^ {2}✓ redis units add up/m)
      expect(run.stdout).not.toContain('✗')
    })

    it('should print one JSON object with the sale, its invariant report and the room with --json', async () => {
      const saleId = await createdSale(30)

      const run = await cli(['status', saleId, '--json'])

      expect(run.code, run.stderr).toBe(0)
      const lines = jsonLines(run.stdout) as Array<Record<string, unknown>>
      expect(lines).toHaveLength(1)
      expect(Object.keys(lines[0]!).sort()).toEqual(['at', 'invariant', 'room', 'sale'])
      expect(InvariantReport.parse(lines[0]!.invariant).ok).toBe(true)
      expect(RoomStats.parse(lines[0]!.room).tokensLoaded).toBe(30)
    })
  })

  describe('when watch runs with --count', () => {
    it('should print one JSON object per refresh, then stop', async () => {
      const saleId = await createdSale(5)

      const run = await cli(['watch', saleId, '--interval', '100', '--count', '3', '--json'])

      expect(run.code, run.stderr).toBe(0)
      const lines = jsonLines(run.stdout) as Array<{ sale: Sale; at: string }>
      expect(lines).toHaveLength(3)
      expect(lines.map((l) => l.sale.saleId)).toEqual([saleId, saleId, saleId])
      expect(new Set(lines.map((l) => l.at)).size).toBe(3)
    })
  })

  describe('when an argument is bad', () => {
    it.each([
      { args: ['create', '--sale', 'x', '--bogus'], flag: '--bogus' },
      { args: createArgs('cli-bad-stock').map((a) => (a === '30' ? 'thirty' : a)), flag: '--stock' },
      { args: [...createArgs('cli-bad-limit'), '--limit', '0'], flag: '--limit' },
      { args: createArgs('cli-bad-start', { startsAt: 'tomorrow' }), flag: '--starts-at' },
      { args: ['watch', 'some-sale', '--interval', '5'], flag: '--interval' },
    ])('should exit 64 naming $flag on stderr', async ({ args, flag }) => {
      const run = await cli(args)

      expect(run.code).toBe(64)
      expect(run.stderr).toContain(flag)
      expect(run.stdout).toBe('')
    })

    it('should exit 64 for an unknown command', async () => {
      const run = await cli(['launch'])

      expect(run.code).toBe(64)
      expect(run.stderr).toContain('unknown command "launch"')
    })
  })

  describe('when invariant runs', () => {
    it('should exit 0 when every check holds', async () => {
      const saleId = await createdSale(8)

      const run = await cli(['invariant', saleId])

      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain('invariant  ok')
      expect(run.stdout).toContain('✓ never oversold')
    })

    it('should exit 2 and mark the failing check with ✗ when a check fails', async () => {
      const saleId = await createdSale(8)
      await core.redis.incrby(saleKeys(core.prefix, saleId).stock, 1) // one phantom unit: available + held + sold = 9

      const human = await cli(['invariant', saleId])
      const json = await cli(['invariant', saleId, '--json'])

      expect(human.code).toBe(2)
      expect(human.stdout).toMatch(/^ {2}✗ redis units add up +available 9 \+ held 0 \+ sold 0 = 9, stock 8$/m)
      expect(json.code).toBe(2)
      expect(InvariantReport.parse(jsonLines(json.stdout)[0]).ok).toBe(false)
    })
  })

  describe('when a service refuses', () => {
    it('should exit 1 and print the error as JSON with --json', async () => {
      const run = await cli(['status', 'any-sale', '--json'], { CORE_ADMIN_TOKEN: 'wrong-core-admin-token' })

      expect(run.code).toBe(1)
      expect(jsonLines(run.stdout)).toEqual([{ error: { service: 'core', status: 401, code: 'unauthorized', message: expect.stringContaining('CORE_ADMIN_TOKEN') } }])
    })

    it('should exit 1 and name the service, code and message on stderr', async () => {
      const saleId = uniqueName('cli-')

      const run = await cli(['invariant', saleId])

      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`core error sale_not_found (404): no sale ${saleId}`)
    })
  })
})
