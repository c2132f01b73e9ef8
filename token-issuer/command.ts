/**
 * What every token-issuer command shares: the command shape, exit codes, output and argument helpers.
 * One file per command lives in commands/; cli.ts dispatches.
 */
import { SaleId, type InvariantReport } from '../contracts/index.ts'
import type { IssuerConfig, IssuerError } from './issuer.ts'

export const EXIT = { ok: 0, serviceError: 1, invariantFailed: 2, usage: 64, config: 78 } as const
export const PROGRAM = 'token-issuer'

export type OptionSpec = { type: 'string' | 'boolean'; short?: string }
export type Values = Record<string, string | boolean | undefined>

export interface Context {
  values: Values
  positionals: string[]
  json: boolean
  cfg: IssuerConfig
}

export interface Command {
  name: string
  summary: string
  usage: string
  options: Record<string, OptionSpec>
  positionals: string[]
  run(ctx: Context): Promise<number>
}

/** Bad arguments: exit 64. `flag` is the option (or argument) to fix. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

export const COMMON_HELP = `  --json                  one JSON object per line on stdout (errors too: {"error":{…}})
  -h, --help              show this help`

export const ENV_HELP = `Environment:
  CORE_URL          core's base URL (default http://127.0.0.1:3000)
  CORE_ADMIN_TOKEN  bearer token for core's /admin API
  EDGE_URL          the edge worker's base URL (default http://127.0.0.1:8787)
  EDGE_ADMIN_TOKEN  bearer token for the edge's /admin API
  TOKEN_SECRET      signs purchase tokens; must be core's TOKEN_SECRET
  The three secrets default to core's development values (refused when NODE_ENV=production).`

export function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`)
}

export function printJson(value: unknown): void {
  write(process.stdout, JSON.stringify(value))
}

export function money(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`
}

export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}

/** Rows of `name value` cells, each column as wide as its widest cell. */
export function grid(rows: Array<[string, Array<[string, number | string]>]>): string[] {
  const cells = rows.map(([, items]) => items.map(([name, value]) => `${name} ${value}`))
  const widths: number[] = []
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows.map(([label], r) =>
    `${label.padEnd(11)}${cells[r]!.map((cell, i) => cell.padEnd(widths[i]! + 3)).join('')}`.trimEnd(),
  )
}

export function checkLines(report: InvariantReport): string[] {
  const width = Math.max(...report.checks.map((c) => c.name.length))
  return [
    `invariant  ${report.ok ? 'ok' : 'FAILED'}`,
    ...report.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.name.padEnd(width)}  ${c.detail}`),
  ]
}

export function str(values: Values, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

export function required(values: Values, name: string): string {
  const value = str(values, name)
  if (value === undefined) throw new UsageError(`missing required option --${name}`, `--${name}`)
  return value
}

export function wholeNumber(values: Values, name: string): number | undefined {
  const value = str(values, name)
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value))
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`, `--${name}`)
  return Number(value)
}

export function requiredWholeNumber(values: Values, name: string): number {
  required(values, name)
  return wholeNumber(values, name)!
}

export function saleIdArgument(ctx: Context, command: string): string {
  const [saleId, ...extra] = ctx.positionals
  if (!saleId) throw new UsageError(`missing <saleId>: ${PROGRAM} ${command} <saleId>`, '<saleId>')
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`, extra[0])
  const parsed = SaleId.safeParse(saleId)
  if (!parsed.success) throw new UsageError(`<saleId> ${parsed.error.issues[0]?.message ?? 'is invalid'}`, '<saleId>')
  return saleId
}

export function reportServiceError(error: IssuerError, json: boolean): void {
  if (json) printJson({ error: error.toJSON() })
  else
    write(
      process.stderr,
      `${PROGRAM}: ${error.service} error ${error.code}${error.status ? ` (${error.status})` : ''}: ${error.message}`,
    )
}
