import cliProgress from 'cli-progress'
import type { z } from 'zod'
import { CreateSaleInput, createSale, getSale, type CreateSaleProgress, type CreateSaleResult } from '../issuer.ts'
import {
  type Values,
  type Command,
  EXIT,
  PROGRAM,
  UsageError,
  COMMON_HELP,
  write,
  printJson,
  money,
  str,
  required,
  wholeNumber,
  requiredWholeNumber,
} from '../command.ts'

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

const RELATIVE_TIME = /^\+(\d+)(s|m|h|d)$/
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `now`, `+30s`, `+5m`, `+2h`, `+1d` (relative to `nowMs`, whole seconds) or an ISO 8601 time passed through as is. */
function resolveStartsAt(text: string, nowMs = Date.now()): { startsAt: string; relative: boolean } {
  const second = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000).toISOString()
  if (text === 'now') return { startsAt: second(nowMs), relative: true }
  const match = RELATIVE_TIME.exec(text)
  if (match)
    return { startsAt: second(nowMs + Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]), relative: true }
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
  maxPlacesPerIp: '--max-places-per-network',
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
    maxPlacesPerIp: wholeNumber(values, 'max-places-per-network'),
  }
  const parsed = CreateSaleInput.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const flag = CREATE_FLAGS[String(issue.path[0])] ?? String(issue.path[0])
    const hint =
      flag === '--starts-at' ? ' (use ISO 8601 with a zone such as 2026-07-01T12:00:00Z, or now, +30s, +5m, +2h)' : ''
    throw new UsageError(`${flag}: ${issue.message}${hint}`, flag)
  }
  return { input: parsed.data, relative }
}

export const create: Command = {
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
  --max-places-per-network <n>
                          places in line one client network (an IPv4 address, an IPv6 /64) may hold
                          (default 8; 0: no cap)
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
    'max-places-per-network': { type: 'string' },
  },
  positionals: [],
  async run(ctx) {
    if (ctx.positionals.length)
      throw new UsageError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}`, ctx.positionals[0])
    const { input, relative } = createInput(ctx.values)
    if (relative) {
      const existing = await getSale(ctx.cfg, input.saleId)
      if (existing) {
        input.startsAt = existing.startsAt
        write(
          process.stderr,
          `${PROGRAM}: sale ${input.saleId} already exists; keeping its start time ${existing.startsAt}`,
        )
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
      format:
        'tokens [{bar}] {percentage}% | {value}/{total} uploaded | {generated} signed | {duplicates} already loaded | eta {eta_formatted}',
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
