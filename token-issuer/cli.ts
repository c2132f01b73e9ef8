/**
 * token-issuer: the operator's command line. A thin shell around `issuer.ts`.
 *
 *   tsx token-issuer/cli.ts <command> [options]     (npm run token-issuer -- <command> [options])
 *
 * Exit codes: 0 ok, 1 a service refused or could not be reached, 2 an invariant check failed (`invariant`),
 * 64 bad arguments (EX_USAGE), 78 bad environment (EX_CONFIG).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import cliProgress from 'cli-progress'
import type { z } from 'zod'
import { RECONCILE_JOBS, ReconcileJobName, SaleId, type InvariantReport } from '../contracts/index.ts'
import {
  CreateSaleInput,
  IssuerConfigError,
  IssuerError,
  createSale,
  getSale,
  issuerConfig,
  reconcile,
  saleInvariant,
  saleStatus,
  type CreateSaleProgress,
  type CreateSaleResult,
  type IssuerConfig,
  type SaleStatus,
  roomReport,
  roomStats,
  steerRoom,
} from './issuer.ts'
import { CATALOG_OPTIONS, CATALOG_USAGE, runCatalogCommand } from './catalog-cli.ts'
import { fairness } from './fairness.ts'
import type { RoomSteer } from '../contracts/index.ts'

const EXIT = { ok: 0, serviceError: 1, invariantFailed: 2, usage: 64, config: 78 } as const
const PROGRAM = 'token-issuer'

type OptionSpec = { type: 'string' | 'boolean'; short?: string }
type Values = Record<string, string | boolean | undefined>

interface Context {
  values: Values
  positionals: string[]
  json: boolean
  cfg: IssuerConfig
}

interface Command {
  name: string
  summary: string
  usage: string
  options: Record<string, OptionSpec>
  positionals: string[]
  run(ctx: Context): Promise<number>
}

/** Bad arguments: exit 64. `flag` is the option (or argument) to fix. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

const COMMON_HELP = `  --json                  one JSON object per line on stdout (errors too: {"error":{…}})
  -h, --help              show this help`

const ENV_HELP = `Environment:
  CORE_URL          core's base URL (default http://127.0.0.1:3000)
  CORE_ADMIN_TOKEN  bearer token for core's /admin API
  EDGE_URL          the edge worker's base URL (default http://127.0.0.1:8787)
  EDGE_ADMIN_TOKEN  bearer token for the edge's /admin API
  TOKEN_SECRET      signs purchase tokens; must be core's TOKEN_SECRET
  The three secrets default to core's development values (refused when NODE_ENV=production).`

// ---------------------------------------------------------------- output helpers

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`)
}

function printJson(value: unknown): void {
  write(process.stdout, JSON.stringify(value))
}

function money(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`
}

function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}

/** Rows of `name value` cells, each column as wide as its widest cell. */
function grid(rows: Array<[string, Array<[string, number | string]>]>): string[] {
  const cells = rows.map(([, items]) => items.map(([name, value]) => `${name} ${value}`))
  const widths: number[] = []
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows.map(([label], r) => `${label.padEnd(11)}${cells[r]!.map((cell, i) => cell.padEnd(widths[i]! + 3)).join('')}`.trimEnd())
}

function checkLines(report: InvariantReport): string[] {
  const width = Math.max(...report.checks.map((c) => c.name.length))
  return [
    `invariant  ${report.ok ? 'ok' : 'FAILED'}`,
    ...report.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.name.padEnd(width)}  ${c.detail}`),
  ]
}

function formatStatus({ at, sale, invariant, room }: SaleStatus): string {
  const opensIn = Date.parse(sale.startsAt) - Date.parse(at)
  return [
    `sale       ${sale.saleId}  "${sale.name}" (${sale.sku})  ${money(sale.priceCents, sale.currency)}  limit ${sale.perShopperLimit}/shopper`,
    `starts     ${sale.startsAt}  (${opensIn > 0 ? `opens in ${duration(opensIn)}` : `open for ${duration(opensIn)}`})`,
    '',
    ...grid([
      ['units', [['stock', sale.stock], ['available', invariant.redis.available], ['held', invariant.redis.held], ['sold', invariant.redis.sold]]],
      ['orders', [['confirmed', invariant.postgres.confirmed], ['pending', invariant.postgres.pending], ['failed', invariant.postgres.failed]]],
      ['room', [['queued', room.queued], ['admitted', room.admitted], ['granted', room.granted], ['redeemed', room.redeemed]]],
      ['tokens', [['loaded', room.tokensLoaded], ['available', room.available], ['sold', room.sold], ['recycled', room.recycled]]],
    ]),
    ...(room.configured ? [] : ['           (waiting room NOT configured)']),
    '',
    ...checkLines(invariant),
    '',
    `as of ${at}`,
  ].join('\n')
}

function formatCreate(r: CreateSaleResult): string {
  const { sale } = r
  return [
    `sale ${sale.saleId} ${r.created ? 'created in core' : 'already in core with the same settings (resumed)'}`,
    `  "${sale.name}" (${sale.sku})  ${money(sale.priceCents, sale.currency)}  stock ${sale.stock}  limit ${sale.perShopperLimit}/shopper`,
    `  starts ${sale.startsAt}  token ttl ${sale.tokenTtlSeconds}s  hold ttl ${sale.holdTtlSeconds}s`,
    `room configured: admit ${r.roomConfig.admitPerMinute}/min, grant ttl ${r.roomConfig.tokenTtlSeconds}s, ${r.roomConfig.shards} shard${r.roomConfig.shards === 1 ? '' : 's'}`,
    `tokens: ${r.tokensGenerated} generated, ${r.tokensLoaded} newly loaded, ${r.duplicates} already loaded; room holds ${r.room.tokensLoaded} of ${sale.stock}`,
    `done in ${r.seconds.toFixed(2)}s`,
  ].join('\n')
}

// ---------------------------------------------------------------- argument helpers

function str(values: Values, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

function required(values: Values, name: string): string {
  const value = str(values, name)
  if (value === undefined) throw new UsageError(`missing required option --${name}`, `--${name}`)
  return value
}

function wholeNumber(values: Values, name: string): number | undefined {
  const value = str(values, name)
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`, `--${name}`)
  return Number(value)
}

function requiredWholeNumber(values: Values, name: string): number {
  required(values, name)
  return wholeNumber(values, name)!
}

function saleIdArgument(ctx: Context, command: string): string {
  const [saleId, ...extra] = ctx.positionals
  if (!saleId) throw new UsageError(`missing <saleId>: ${PROGRAM} ${command} <saleId>`, '<saleId>')
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`, extra[0])
  const parsed = SaleId.safeParse(saleId)
  if (!parsed.success) throw new UsageError(`<saleId> ${parsed.error.issues[0]?.message ?? 'is invalid'}`, '<saleId>')
  return saleId
}

const RELATIVE_TIME = /^\+(\d+)(s|m|h|d)$/
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `now`, `+30s`, `+5m`, `+2h`, `+1d` (relative to `nowMs`, whole seconds) or an ISO 8601 time passed through as is. */
function resolveStartsAt(text: string, nowMs = Date.now()): { startsAt: string; relative: boolean } {
  const second = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000).toISOString()
  if (text === 'now') return { startsAt: second(nowMs), relative: true }
  const match = RELATIVE_TIME.exec(text)
  if (match) return { startsAt: second(nowMs + Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]), relative: true }
  return { startsAt: text, relative: false }
}

/** Which flag sets which CreateSaleInput field, so a schema error names the flag to fix. */
const CREATE_FLAGS: Record<string, string> = {
  saleId: '--sale',
  sku: '--sku',
  name: '--name',
  priceCents: '--price-cents',
  currency: '--currency',
  stock: '--stock',
  perShopperLimit: '--limit',
  tokenTtlSeconds: '--token-ttl',
  holdTtlSeconds: '--hold-ttl',
  startsAt: '--starts-at',
  admitPerMinute: '--admit-per-minute',
  shards: '--shards',
}

function createInput(values: Values): { input: z.output<typeof CreateSaleInput>; relative: boolean } {
  const { startsAt, relative } = resolveStartsAt(required(values, 'starts-at'))
  const raw = {
    saleId: required(values, 'sale'),
    sku: required(values, 'sku'),
    name: required(values, 'name'),
    priceCents: requiredWholeNumber(values, 'price-cents'),
    currency: str(values, 'currency'),
    stock: requiredWholeNumber(values, 'stock'),
    perShopperLimit: wholeNumber(values, 'limit'),
    tokenTtlSeconds: wholeNumber(values, 'token-ttl'),
    holdTtlSeconds: wholeNumber(values, 'hold-ttl'),
    startsAt,
    admitPerMinute: wholeNumber(values, 'admit-per-minute'),
    shards: wholeNumber(values, 'shards'),
  }
  const parsed = CreateSaleInput.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const flag = CREATE_FLAGS[String(issue.path[0])] ?? String(issue.path[0])
    const hint = flag === '--starts-at' ? ' (use ISO 8601 with a zone such as 2026-07-01T12:00:00Z, or now, +30s, +5m, +2h)' : ''
    throw new UsageError(`${flag}: ${issue.message}${hint}`, flag)
  }
  return { input: parsed.data, relative }
}

// ---------------------------------------------------------------- commands

const create: Command = {
  name: 'create',
  summary: 'create a sale in core, configure its waiting room, load one purchase token per unit (safe to re-run)',
  usage: `Usage: ${PROGRAM} create --sale <id> --sku <sku> --name <name> --price-cents <n> --stock <n>
                    --starts-at <ISO|now|+30s|+5m> [options]

Creates the sale in core (which seeds its Redis stock), configures its waiting room on the edge, then
signs exactly <stock> purchase tokens and uploads them in batches. Token ids are derived from
TOKEN_SECRET, the sale id and the token's index, so re-running after a crash re-sends the same tokens:
the room counts them as duplicates and no extra stock is ever minted. With a relative --starts-at, a
re-run keeps the start time core already has. A different sale under an existing id fails with
sale_exists before anything is uploaded.

Options:
  --sale <id>             sale id: a-z, 0-9 and "-" (required)
  --sku <sku>             product SKU (required)
  --name <name>           product name (required)
  --price-cents <n>       unit price in minor units (required)
  --currency <code>       ISO 4217 code (default USD)
  --stock <n>             units for sale = tokens to load (required)
  --limit <n>             units one shopper may buy (default 1)
  --token-ttl <seconds>   how long an admitted shopper has to redeem (default 300)
  --hold-ttl <seconds>    how long a redeemed unit stays held while payment settles (default 300)
  --starts-at <when>      ISO 8601 with a zone, or now, +30s, +5m, +2h, +1d (required)
  --admit-per-minute <n>  shoppers the room admits per minute (default 1000)
  --shards <n>            Durable Objects the line and token pool are spread over, 1..64 (default 1;
                          about 1,000 requests/s each); fixed once tokens are loaded
${COMMON_HELP}

A progress bar is drawn on stderr when it is a terminal (not with --json).`,
  options: {
    sale: { type: 'string' },
    sku: { type: 'string' },
    name: { type: 'string' },
    'price-cents': { type: 'string' },
    currency: { type: 'string' },
    stock: { type: 'string' },
    limit: { type: 'string' },
    'token-ttl': { type: 'string' },
    'hold-ttl': { type: 'string' },
    'starts-at': { type: 'string' },
    'admit-per-minute': { type: 'string' },
    shards: { type: 'string' },
  },
  positionals: [],
  async run(ctx) {
    if (ctx.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}`, ctx.positionals[0])
    const { input, relative } = createInput(ctx.values)
    if (relative) {
      const existing = await getSale(ctx.cfg, input.saleId)
      if (existing) {
        input.startsAt = existing.startsAt
        write(process.stderr, `${PROGRAM}: sale ${input.saleId} already exists; keeping its start time ${existing.startsAt}`)
      }
    }
    const bar = !ctx.json && process.stderr.isTTY ? progressBar() : undefined
    let result: CreateSaleResult
    try {
      result = await createSale(ctx.cfg, input, { onProgress: bar?.update })
    } finally {
      bar?.stop()
    }
    if (ctx.json) printJson(result)
    else write(process.stdout, formatCreate(result))
    return EXIT.ok
  },
}

function progressBar(): { update: (p: CreateSaleProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'tokens [{bar}] {percentage}% | {value}/{total} uploaded | {generated} signed | {duplicates} already loaded | eta {eta_formatted}',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  return {
    update(p) {
      if (p.phase !== 'tokens') return
      const payload = { generated: p.generated, duplicates: p.duplicates }
      if (!started) {
        bar.start(p.total, p.uploaded, payload)
        started = true
      } else {
        bar.update(p.uploaded, payload)
      }
    },
    stop() {
      if (started) bar.stop()
    },
  }
}

const status: Command = {
  name: 'status',
  summary: "a sale's units, orders, waiting room and invariant checks",
  usage: `Usage: ${PROGRAM} status <saleId> [--json]

Shows stock, available, held and sold units (Redis), confirmed, pending and failed orders (Postgres),
the waiting room's queued, admitted and granted shoppers (edge), and core's invariant checks (✓/✗).

Options:
${COMMON_HELP}`,
  options: {},
  positionals: ['saleId'],
  async run(ctx) {
    const result = await saleStatus(ctx.cfg, saleIdArgument(ctx, 'status'))
    if (ctx.json) printJson(result)
    else write(process.stdout, formatStatus(result))
    return EXIT.ok
  },
}

const watch: Command = {
  name: 'watch',
  summary: 'reprint status every interval until Ctrl-C (or --count refreshes)',
  usage: `Usage: ${PROGRAM} watch <saleId> [--interval <ms>] [--count <n>] [--json]

Reprints the status of a sale every interval, clearing the screen when stdout is a terminal. A failed
refresh prints the error and watching goes on; the exit code is that of the last refresh (0 or 1).

Options:
  --interval <ms>         time between refreshes (default 1000, at least 100)
  --count <n>             stop after n refreshes (default: run until Ctrl-C)
${COMMON_HELP}`,
  options: {
    interval: { type: 'string' },
    count: { type: 'string' },
  },
  positionals: ['saleId'],
  async run(ctx) {
    const saleId = saleIdArgument(ctx, 'watch')
    const interval = wholeNumber(ctx.values, 'interval') ?? 1000
    if (interval < 100) throw new UsageError('--interval must be at least 100 (milliseconds)', '--interval')
    const count = wholeNumber(ctx.values, 'count')
    if (count === 0) throw new UsageError('--count must be at least 1', '--count')
    const clear = !ctx.json && process.stdout.isTTY
    const stop = new AbortController()
    const onSigint = () => stop.abort()
    process.once('SIGINT', onSigint)
    let exit: number = EXIT.ok
    try {
      for (let refresh = 1; !stop.signal.aborted; refresh++) {
        try {
          const result = await saleStatus(ctx.cfg, saleId)
          if (ctx.json) printJson(result)
          else write(process.stdout, `${clear ? '\x1b[2J\x1b[3J\x1b[H' : ''}${formatStatus(result)}${clear ? '' : '\n'}`)
          exit = EXIT.ok
        } catch (error) {
          if (!(error instanceof IssuerError)) throw error
          reportServiceError(error, ctx.json)
          exit = EXIT.serviceError
        }
        if (count !== undefined && refresh >= count) break
        await sleep(interval, undefined, { signal: stop.signal }).catch(() => undefined)
      }
    } finally {
      process.off('SIGINT', onSigint)
    }
    return exit
  },
}

const invariant: Command = {
  name: 'invariant',
  summary: "core's invariant checks for a sale; exit 2 if any fails",
  usage: `Usage: ${PROGRAM} invariant <saleId> [--json]

Prints core's invariant checks for a sale (Redis units add up, never oversold, one order per token, …).
Exit code 0 when every check holds, 2 when any fails. Only core is asked.

Options:
${COMMON_HELP}`,
  options: {},
  positionals: ['saleId'],
  async run(ctx) {
    const report = await saleInvariant(ctx.cfg, saleIdArgument(ctx, 'invariant'))
    if (ctx.json) printJson(report)
    else write(process.stdout, [`sale       ${report.saleId}  stock ${report.stock}`, ...checkLines(report)].join('\n'))
    return report.ok ? EXIT.ok : EXIT.invariantFailed
  },
}

const room: Command = {
  name: 'room',
  summary: 'steer a running waiting room live: rate, max active shoppers, pause / resume / queue-all',
  usage: `Usage: ${PROGRAM} room <saleId> [--admit-per-minute <n>] [--max-active <n|none>] [--pause | --resume | --queue-all] [--json]

Changes apply to every shard at once; time already passed keeps the old settings, paused time banks no
admissions. --queue-all is the emergency stop: nobody new is admitted and checkout answers 503 until --resume.
Without options, prints the room's current state.

Options:
  --admit-per-minute <n>  new shoppers admitted per minute
  --max-active <n|none>   most shoppers holding a grant at once (none: no cap)
  --pause                 stop admitting; everyone keeps their place
  --resume                admit again
  --queue-all             emergency stop (as --pause, and checkout is held)
${COMMON_HELP}`,
  options: {
    'admit-per-minute': { type: 'string' },
    'max-active': { type: 'string' },
    pause: { type: 'boolean' },
    resume: { type: 'boolean' },
    'queue-all': { type: 'boolean' },
  },
  positionals: ['saleId'],
  async run(ctx) {
    const saleId = saleIdArgument(ctx, 'room')
    const v = ctx.values
    const modes = (['pause', 'resume', 'queue-all'] as const).filter((m) => v[m])
    if (modes.length > 1) throw new UsageError('give at most one of --pause, --resume, --queue-all', `--${modes[1]}`)
    const steer: RoomSteer = {}
    if (v['admit-per-minute'] !== undefined) {
      const n = Number(v['admit-per-minute'])
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--admit-per-minute must be a positive integer', '--admit-per-minute')
      steer.admitPerMinute = n
    }
    if (v['max-active'] !== undefined) {
      const n = v['max-active'] === 'none' ? null : Number(v['max-active'])
      if (n !== null && (!Number.isInteger(n) || n < 1)) throw new UsageError('--max-active must be a positive integer or none', '--max-active')
      steer.maxActive = n
    }
    if (modes[0]) steer.mode = modes[0] === 'pause' ? 'paused' : modes[0] === 'resume' ? 'open' : 'queue_all'
    const stats = Object.keys(steer).length ? await steerRoom(ctx.cfg, saleId, steer) : await roomStats(ctx.cfg, saleId)
    if (ctx.json) printJson(stats)
    else
      write(
        process.stdout,
        [
          `room       ${stats.saleId}  ${stats.mode ?? 'open'}  ${stats.admitPerMinute ?? '?'} / min  max active ${stats.maxActive ?? 'none'}  shards ${stats.shards ?? 1}`,
          `queue      ${stats.queued} waiting  ${stats.admitted} admitted  ${stats.recycled} recycled`,
          `tokens     ${stats.available} available  ${stats.granted} granted  ${stats.redeemed} redeemed  ${stats.sold} sold of ${stats.tokensLoaded}`,
        ].join('\n'),
      )
    return EXIT.ok
  },
}

const report: Command = {
  name: 'report',
  summary: 'fairness report: seed commitment and reveal, shuffle check, Kendall tau, tokens, issuance log',
  usage: `Usage: ${PROGRAM} report <saleId> [--log] [--json]

Runs on the room's report the checks anyone can run on the sale's public proof (npm run verify-fairness):
sha256(revealed seed) = the commitment published when the pre-queue opened; every shard admitted its pre-queue
in the order sha256(seed ":" publicId) gives (recomputed here from the published join list); Kendall tau-b
between arrival and admission order for shoppers who joined after the start, per shard (1 = exact arrival
order; target >= 0.99); each admission a distinct generation of a token, no more tokens used than loaded.
--log prints the issuance log (public ids, as the public proof lists them). Exit code 2 when a check fails.

Options:
  --log                   print the issuance log too (always included with --json)
${COMMON_HELP}`,
  options: { log: { type: 'boolean' } },
  positionals: ['saleId'],
  async run(ctx) {
    const saleId = saleIdArgument(ctx, 'report')
    const result = await fairness(await roomReport(ctx.cfg, saleId))
    if (ctx.json) printJson(result)
    else {
      const mark = (ok: boolean | null) => (ok === null ? '-' : ok ? '✓' : '✗')
      const tau = result.kendallTau
      const fifo = `arrival vs admission, ${result.fifoAdmitted} first-come admissions`
      const lines = [
        `sale       ${result.saleId}  starts ${result.startsAt}  shards ${result.shards}`,
        `joined     ${result.joined} (${result.prequeueJoined} in the pre-queue)   admitted ${result.admitted}`,
        `commitment ${result.commitment ?? '-'}`,
        `seed       ${result.seed ?? '(revealed at the start)'}`,
        `  ${mark(result.commitmentOk)} sha256(seed) matches the commitment`,
        `  ${mark(result.shuffleOk)} shuffle: ${result.shuffleDetail}`,
        `  ${mark(tau === null ? null : tau >= 0.99)} Kendall tau (${fifo}): ${tau === null ? '-' : tau.toFixed(4)}`,
        `  ${mark(result.tokensOk)} tokens: ${result.tokensDetail}`,
      ]
      if (ctx.values.log) {
        for (const e of result.issuance) {
          const where = `shard ${e.shard}${e.pre ? '  pre-queue' : ''}`
          lines.push(`  ${e.admittedAt}  ${e.publicId}  ${e.tid} gen ${e.gen}  ${where}`)
        }
      }
      write(process.stdout, lines.join('\n'))
    }
    return result.ok ? EXIT.ok : EXIT.invariantFailed
  },
}

const reconcileCommand: Command = {
  name: 'reconcile',
  summary: "run one of core's reconciliation jobs now and print what it fixed",
  usage: `Usage: ${PROGRAM} reconcile <job> [--json]

Runs a reconciliation job in core immediately (they also run on their own schedule) and prints its report:
what was examined, fixed and skipped, one line per change. Jobs:
  ${RECONCILE_JOBS.join(', ')}

Options:
${COMMON_HELP}`,
  options: {},
  positionals: ['job'],
  async run(ctx) {
    const [job, ...extra] = ctx.positionals
    if (!job) throw new UsageError(`missing <job>: ${PROGRAM} reconcile <job> (one of ${RECONCILE_JOBS.join(', ')})`, '<job>')
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`, extra[0])
    const parsed = ReconcileJobName.safeParse(job)
    if (!parsed.success) throw new UsageError(`<job> must be one of ${RECONCILE_JOBS.join(', ')}`, '<job>')
    const result = await reconcile(ctx.cfg, parsed.data)
    if (ctx.json) printJson(result)
    else {
      write(
        process.stdout,
        [
          `${result.job}: examined ${result.examined}, fixed ${result.fixed}, skipped ${result.skipped} (${Math.round(result.ms)} ms)`,
          ...result.actions.map((a) => `  ${a.action.padEnd(20)} ${a.id}${a.detail ? `  ${a.detail}` : ''}`),
        ].join('\n'),
      )
    }
    return EXIT.ok
  },
}

const catalog: Command = {
  name: 'catalog',
  summary: 'the store around the drop: import a catalog file, write the sample catalog, reindex search, status',
  usage: CATALOG_USAGE,
  options: CATALOG_OPTIONS,
  positionals: ['subcommand'],
  run: runCatalogCommand,
}

const COMMANDS: Command[] = [create, status, watch, invariant, room, report, reconcileCommand, catalog]

const USAGE = `Usage: ${PROGRAM} <command> [options]

Operator CLI for Floodgate flash sales.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)}  ${c.summary}`).join('\n')}

Every command accepts --json (one JSON object per line on stdout) and --help.
Run '${PROGRAM} <command> --help' for its options.

${ENV_HELP}

Exit codes: 0 ok, 1 service error, 2 invariant check failed, 64 bad arguments, 78 bad environment.`

// ---------------------------------------------------------------- main

function reportServiceError(error: IssuerError, json: boolean): void {
  if (json) printJson({ error: error.toJSON() })
  else write(process.stderr, `${PROGRAM}: ${error.service} error ${error.code}${error.status ? ` (${error.status})` : ''}: ${error.message}`)
}

function parseCommandArgs(command: Command, args: string[]): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args, options: { ...command.options, ...COMMON_OPTIONS }, allowPositionals: true, strict: true })
  } catch (error) {
    const code = (error as { code?: string }).code
    const message = error instanceof Error ? error.message : String(error)
    const flag = /'(-[^'\s]+)/.exec(message)?.[1]
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${flag ?? message}`, flag)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`option ${flag ?? ''} needs a value`.replace('  ', ' '), flag)
    throw new UsageError(message, flag)
  }
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const [name, ...args] = argv
  let command: Command | undefined
  try {
    if (name === undefined) throw new UsageError('missing command')
    if (name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? COMMANDS.find((c) => c.name === args[0]) : undefined
      write(process.stdout, topic?.usage ?? USAGE)
      return EXIT.ok
    }
    command = COMMANDS.find((c) => c.name === name)
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)} (commands: ${COMMANDS.map((c) => c.name).join(', ')})`)
    if (args.includes('--help') || args.includes('-h')) {
      write(process.stdout, command.usage)
      return EXIT.ok
    }
    const { values, positionals } = parseCommandArgs(command, args)
    const cfg = issuerConfig(process.env)
    return await command.run({ values, positionals, json, cfg })
  } catch (error) {
    if (error instanceof UsageError) {
      const where = command ? `${PROGRAM} ${command.name}` : PROGRAM
      write(process.stderr, `${where}: ${error.message}\nRun '${where} --help' for usage.`)
      if (json) printJson({ error: { code: 'usage', message: error.message, ...(error.flag ? { field: error.flag } : {}) } })
      return EXIT.usage
    }
    if (error instanceof IssuerConfigError) {
      write(process.stderr, `${PROGRAM}: ${error.message}`)
      if (json) printJson({ error: { code: 'invalid_config', message: error.message } })
      return EXIT.config
    }
    if (error instanceof IssuerError) {
      reportServiceError(error, json)
      return EXIT.serviceError
    }
    throw error
  }
}

// `token-issuer watch … | head` closes stdout early: that is the reader saying it has seen enough.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  process.exit(process.exitCode ?? EXIT.ok)
})
process.exitCode = await main(process.argv.slice(2))
