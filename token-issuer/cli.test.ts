import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  InvariantReport,
  ReconcileReport,
  RoomStats,
  Sale,
  seedCommitment,
  shuffleKey,
  type RoomReport,
} from '../contracts/index.ts'
import { saleKeys } from '../core/redis/keys.ts'
import { startTestCore, type TestCore } from '../test/support/core.ts'
import { uniqueName } from '../test/support/services.ts'
import { RoomDouble } from '../test/support/room-double.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const EDGE_ADMIN_TOKEN = 'edge-admin-token-for-cli-tests'

let core: TestCore
let edge: RoomDouble

// One core and one edge double for the file: every CLI run is a separate process, and every test uses its own sale ids.
beforeAll(async () => {
  // Core's own watchdog and scheduled reconciliation would rebuild a lost sale, racing the CLI's reconcile below.
  core = await startTestCore({ REDIS_CHECK_INTERVAL_MS: '0', RECONCILE_INTERVAL_MS: '0' }, { listen: true })
  edge = await new RoomDouble(EDGE_ADMIN_TOKEN).start()
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
    execFile(
      'npx',
      ['tsx', 'token-issuer/cli.ts', ...args],
      { cwd: ROOT, env: environment, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

function jsonLines(stdout: string): unknown[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown)
}

function createArgs(saleId: string, { stock = 30, startsAt = '+10m' } = {}): string[] {
  return [
    'create',
    '--sale',
    saleId,
    '--sku',
    'SKU-7',
    '--name',
    'Drop seven',
    '--price-cents',
    '4999',
    '--stock',
    String(stock),
    '--starts-at',
    startsAt,
  ]
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
      for (const command of ['create', 'status', 'watch', 'invariant', 'room', 'report', 'reconcile'])
        expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
      expect(run.stdout).toContain('--json')
    })

    it("should show a command's options", async () => {
      const run = await cli(['create', '--help'])

      expect(run.code).toBe(0)
      for (const flag of [
        '--sale',
        '--sku',
        '--name',
        '--price-cents',
        '--currency',
        '--stock',
        '--limit',
        '--token-ttl',
        '--hold-ttl',
        '--starts-at',
        '--admit-per-minute',
        '--json',
      ]) {
        expect(run.stdout).toContain(flag)
      }
    })
  })

  describe('when create runs with --json', () => {
    it('should print exactly one JSON object describing the sale and its loaded tokens', async () => {
      const saleId = uniqueName('cli-')

      const run = await cli([
        ...createArgs(saleId, { stock: 42 }),
        '--limit',
        '2',
        '--admit-per-minute',
        '600',
        '--json',
      ])

      expect(run.code, run.stderr).toBe(0)
      const lines = jsonLines(run.stdout)
      expect(lines).toHaveLength(1)
      const result = lines[0] as Record<string, unknown>
      expect(Object.keys(result).sort()).toEqual([
        'created',
        'duplicates',
        'room',
        'roomConfig',
        'sale',
        'seconds',
        'tokensGenerated',
        'tokensLoaded',
      ])
      expect(Sale.parse(result.sale)).toMatchObject({ saleId, stock: 42, perShopperLimit: 2, priceCents: 4999 })
      expect(RoomStats.parse(result.room)).toMatchObject({ saleId, tokensLoaded: 42, configured: true })
      expect(result).toMatchObject({
        created: true,
        tokensGenerated: 42,
        tokensLoaded: 42,
        duplicates: 0,
        roomConfig: { admitPerMinute: 600 },
      })
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
      const [firstResult, againResult] = [jsonLines(first.stdout)[0], jsonLines(again.stdout)[0]] as Array<{
        sale: Sale
      }>
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

  describe('when create runs with --shards', () => {
    it('should configure the room with that many shards, and with 1 by default', async () => {
      const sharded = uniqueName('cli-')
      const plain = uniqueName('cli-')

      const run = await cli([...createArgs(sharded, { stock: 16 }), '--shards', '4', '--json'])
      const human = await cli(createArgs(plain, { stock: 4 }))

      expect(run.code, run.stderr).toBe(0)
      expect(jsonLines(run.stdout)[0]).toMatchObject({ roomConfig: { shards: 4 }, tokensLoaded: 16 })
      expect(edge.room(sharded).config?.shards).toBe(4)
      expect(human.code, human.stderr).toBe(0)
      expect(human.stdout).toContain('grant ttl 300s, 1 shard\n')
      expect(edge.room(plain).config?.shards).toBe(1)
    })

    it.each(['0', '65', 'four'])('should exit 64 naming --shards for %s', async (shards) => {
      const run = await cli([...createArgs(uniqueName('cli-')), '--shards', shards])

      expect(run.code).toBe(64)
      expect(run.stderr).toContain('--shards')
    })
  })

  describe('when room steers a running room', () => {
    it('should print the current state without options and change nothing', async () => {
      const saleId = await createdSale(6)

      const run = await cli(['room', saleId])

      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toMatch(new RegExp(`^room +${saleId} +open +1000 / min +max active none +shards 1$`, 'm'))
      expect(run.stdout).toMatch(/^tokens +6 available +0 granted +0 redeemed +0 sold of 6$/m)
      expect(edge.steers.filter((s) => s.saleId === saleId)).toEqual([])
    })

    it('should pause, queue all and resume, printing one JSON object of room stats each time', async () => {
      const saleId = await createdSale(6)

      const modes = []
      const heldInCore = []
      for (const flag of ['--pause', '--queue-all', '--resume']) {
        const run = await cli(['room', saleId, flag, '--json'])
        expect(run.code, run.stderr).toBe(0)
        const lines = jsonLines(run.stdout)
        expect(lines).toHaveLength(1)
        modes.push(RoomStats.parse(lines[0]).mode)
        heldInCore.push(await core.sales.checkoutHeld(saleId))
      }

      expect(modes).toEqual(['paused', 'queue_all', 'open'])
      // queue_all holds checkout in core as well, whoever calls it; resume releases it.
      expect(heldInCore).toEqual([false, true, false])
      expect(edge.steers.filter((s) => s.saleId === saleId).map((s) => s.steer)).toEqual([
        { mode: 'paused' },
        { mode: 'queue_all' },
        { mode: 'open' },
      ])
    })

    it('should change the rate and lift the cap on active shoppers', async () => {
      const saleId = await createdSale(6)
      expect((await cli(['room', saleId, '--max-active', '50', '--json'])).code).toBe(0)

      const run = await cli(['room', saleId, '--admit-per-minute', '1200', '--max-active', 'none'])

      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toMatch(new RegExp(`^room +${saleId} +open +1200 / min +max active none`, 'm'))
      expect(edge.steers.filter((s) => s.saleId === saleId).map((s) => s.steer)).toEqual([
        { maxActive: 50 },
        { admitPerMinute: 1200, maxActive: null },
      ])
    })

    it.each([
      { args: ['--pause', '--resume'], flag: '--resume' },
      { args: ['--admit-per-minute', '0'], flag: '--admit-per-minute' },
      { args: ['--max-active', 'lots'], flag: '--max-active' },
    ])('should exit 64 naming $flag and steer nothing', async ({ args, flag }) => {
      const saleId = uniqueName('cli-')

      const run = await cli(['room', saleId, ...args])

      expect(run.code).toBe(64)
      expect(run.stderr).toContain(flag)
      expect(edge.steers.filter((s) => s.saleId === saleId)).toEqual([])
    })

    it('should exit 1 with the edge error as JSON when the room is not configured', async () => {
      const run = await cli(['room', uniqueName('cli-'), '--pause', '--json'])

      expect(run.code).toBe(1)
      expect(jsonLines(run.stdout)).toEqual([
        { error: expect.objectContaining({ service: 'edge', status: 404, code: 'room_not_configured' }) },
      ])
    })
  })

  describe("when report checks the room's evidence", () => {
    const id = (n: number) => `shopper${String(n).padStart(15, '0')}`
    const pid = (n: number) => `public${String(n).padStart(10, '0')}`
    const STARTS_AT = 1_700_000_050_000

    /** An honest report: 4 pre-queue shoppers admitted in shuffle order, then 3 first-come ones in join order. */
    async function honestReport(saleId: string): Promise<RoomReport> {
      const seed = 'e'.repeat(64)
      const pre = [1, 2, 3, 4]
      const keyed = await Promise.all(pre.map(async (n) => ({ n, k: await shuffleKey(seed, pid(n)) })))
      const order = keyed.sort((a, b) => a.k - b.k)
      const joinedAt = (n: number, isPre: boolean) => (isPre ? STARTS_AT - 10_000 + n : STARTS_AT + n)
      const entry = (n: number, i: number, isPre: boolean, ord: number) => ({
        shard: 0,
        shopper: id(n),
        publicId: pid(n),
        tid: `tid_${String(i).padStart(12, '0')}`,
        gen: 1,
        pre: isPre,
        ord,
        joinedAt: joinedAt(n, isPre),
        admittedAt: 1_700_000_100_000 + i,
      })
      return {
        saleId,
        shards: 1,
        startsAt: new Date(STARTS_AT).toISOString(),
        prequeueOrder: 'shuffle',
        tokens: 7,
        commitment: await seedCommitment(seed),
        seed,
        joined: 7,
        admitted: 7,
        prequeue: [
          {
            shard: 0,
            shoppers: pre.map(id),
            joins: pre.map((n, i) => ({ shard: 0, publicId: pid(n), seq: i + 1, joinedAt: joinedAt(n, true) })),
          },
        ],
        issuance: [
          ...order.map((o, i) => entry(o.n, i, true, o.k)),
          ...[5, 6, 7].map((n, i) => entry(n, 10 + i, false, 1 + n)),
        ],
      }
    }

    it('should print one JSON object with the checks, counts and the public issuance log, and exit 0', async () => {
      const saleId = await createdSale(7)
      edge.setReport(saleId, await honestReport(saleId))

      const run = await cli(['report', saleId, '--json'])

      expect(run.code, run.stderr).toBe(0)
      const lines = jsonLines(run.stdout) as Array<Record<string, unknown>>
      expect(lines).toHaveLength(1)
      const result = lines[0]!
      expect(Object.keys(result).sort()).toEqual([
        'admitted',
        'commitment',
        'commitmentOk',
        'fifoAdmitted',
        'issuance',
        'joined',
        'kendallTau',
        'ok',
        'prequeueJoined',
        'saleId',
        'seed',
        'shards',
        'shuffleDetail',
        'shuffleOk',
        'startsAt',
        'tokensDetail',
        'tokensOk',
      ])
      expect(result).toMatchObject({
        ok: true,
        saleId,
        commitmentOk: true,
        shuffleOk: true,
        tokensOk: true,
        kendallTau: 1,
        joined: 7,
        prequeueJoined: 4,
        admitted: 7,
        fifoAdmitted: 3,
      })
      const issuance = result.issuance as Array<Record<string, unknown>>
      expect(issuance).toHaveLength(7)
      const keys = ['admittedAt', 'gen', 'joinedAt', 'pre', 'publicId', 'shard', 'tid']
      expect(Object.keys(issuance[0]!).sort()).toEqual(keys)
      // Shoppers appear by public id, as the public proof lists them; their shopper ids stay with the operator.
      expect(issuance.map((e) => e.publicId)).toContain(pid(5))
      expect(JSON.stringify(issuance)).not.toContain(id(5))
    })

    it('should print ✓ checks, and the issuance log only with --log', async () => {
      const saleId = await createdSale(7)
      edge.setReport(saleId, await honestReport(saleId))

      const plain = await cli(['report', saleId])
      const withLog = await cli(['report', saleId, '--log'])

      expect(plain.code, plain.stderr).toBe(0)
      expect(plain.stdout).toContain('✓ sha256(seed) matches the commitment')
      expect(plain.stdout).toMatch(/✓ Kendall tau \(arrival vs admission, 3 first-come admissions\): 1\.0000/)
      expect(plain.stdout).toContain('✓ tokens: 7 tokens used of 7 loaded')
      expect(plain.stdout).not.toContain('✗')
      expect(plain.stdout).not.toContain('tid_000000000010')
      expect(withLog.stdout).toContain(`${pid(5)}  tid_000000000010 gen 1  shard 0`)
    })

    it('should exit 2 with ✗ when the revealed seed does not match the commitment', async () => {
      const saleId = await createdSale(7)
      edge.setReport(saleId, { ...(await honestReport(saleId)), commitment: await seedCommitment('f'.repeat(64)) })

      const human = await cli(['report', saleId])
      const json = await cli(['report', saleId, '--json'])

      expect(human.code).toBe(2)
      expect(human.stdout).toContain('✗ sha256(seed) matches the commitment')
      expect(json.code).toBe(2)
      expect(jsonLines(json.stdout)[0]).toMatchObject({ ok: false, commitmentOk: false })
    })

    it('should exit 2 when first-come shoppers were admitted out of arrival order', async () => {
      const saleId = await createdSale(7)
      const report = await honestReport(saleId)
      const fifo = report.issuance.filter((e) => !e.pre)
      // The log lists the third arrival first (its dates still ascend): admission order is the log's order.
      ;[fifo[0]!.joinedAt, fifo[2]!.joinedAt] = [fifo[2]!.joinedAt, fifo[0]!.joinedAt]
      edge.setReport(saleId, report)

      const run = await cli(['report', saleId, '--json'])

      expect(run.code).toBe(2)
      expect(jsonLines(run.stdout)[0]).toMatchObject({ ok: false, commitmentOk: true, shuffleOk: true })
      expect((jsonLines(run.stdout)[0] as { kendallTau: number }).kendallTau).toBeLessThan(0.99)
    })

    it('should exit 0 with nothing to check before the seed is revealed', async () => {
      const saleId = await createdSale(7)

      const run = await cli(['report', saleId, '--json'])

      expect(run.code, run.stderr).toBe(0)
      expect(jsonLines(run.stdout)[0]).toMatchObject({
        ok: true,
        seed: null,
        commitmentOk: null,
        shuffleOk: null,
        kendallTau: null,
      })
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

  describe('when reconcile runs', () => {
    it('should rebuild a sale whose Redis keys were lost and report what it fixed', async () => {
      const saleId = await createdSale(6)
      const keys = saleKeys(core.prefix, saleId)
      await core.redis.del(...Object.values(keys))

      const run = await cli(['reconcile', 'redis-counters', '--json'])

      expect(run.code, run.stderr).toBe(0)
      const report = ReconcileReport.parse(jsonLines(run.stdout)[0])
      expect(report.job).toBe('redis-counters')
      expect(report.fixed).toBeGreaterThanOrEqual(1)
      expect(report.actions.some((a) => a.id === saleId)).toBe(true)
      expect(await core.scripts.counters(saleId)).toMatchObject({ stock: 6, available: 6, held: 0, sold: 0 })
    })

    it('should refuse an unknown job with exit 64, naming the jobs', async () => {
      const run = await cli(['reconcile', 'everything'])

      expect(run.code).toBe(64)
      expect(run.stderr).toContain('redis-counters')
    })
  })

  describe('when a service refuses', () => {
    it('should exit 1 and print the error as JSON with --json', async () => {
      const run = await cli(['status', 'any-sale', '--json'], { CORE_ADMIN_TOKEN: 'wrong-core-admin-token' })

      expect(run.code).toBe(1)
      expect(jsonLines(run.stdout)).toEqual([
        {
          error: {
            service: 'core',
            status: 401,
            code: 'unauthorized',
            message: expect.stringContaining('CORE_ADMIN_TOKEN'),
          },
        },
      ])
    })

    it('should exit 1 and name the service, code and message on stderr', async () => {
      const saleId = uniqueName('cli-')

      const run = await cli(['invariant', saleId])

      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`core error sale_not_found (404): no sale ${saleId}`)
    })
  })
})
