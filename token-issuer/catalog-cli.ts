/**
 * `token-issuer catalog <import|sample|reindex|status>`: the catalog command group of the operator CLI (cli.ts
 * registers it). Exit codes as the CLI's, plus 65 (EX_DATAERR) when an import skipped bad lines.
 */
import { writeFile } from 'node:fs/promises'
import cliProgress from 'cli-progress'
import { MAX_IMPORT_ITEMS } from '../contracts/index.ts'
import { SAMPLE_PRODUCTS, SAMPLE_SEED, sampleCatalogJsonl } from '../core/catalog/sample-catalog.ts'
import {
  importCatalogFile,
  reindexSearch,
  searchStatus,
  type CatalogImportReport,
  type ImportProgress,
} from './catalog.ts'
import type { IssuerConfig } from './issuer.ts'

type Values = Record<string, string | boolean | undefined>
interface CatalogContext {
  values: Values
  positionals: string[]
  json: boolean
  cfg: IssuerConfig
}

const PROGRAM = 'token-issuer catalog'
const EXIT = { ok: 0, usage: 64, dataError: 65 } as const

export const CATALOG_USAGE = `Usage: token-issuer catalog <subcommand> [options]

  import <file.jsonl> [--batch <n>]     import categories and products (JSON Lines, one object per line:
                                        {"type":"category",...} or {"type":"product",...}); re-running changes
                                        nothing that is already the same; a bad line is reported (line and
                                        field) and skipped whole. Exit 65 when some lines were skipped.
  sample [--products <n>] [--seed <n>] [--out <file>]
                                        write the deterministic sample catalog (default
                                        ${SAMPLE_PRODUCTS} products, seed ${SAMPLE_SEED}) as JSON Lines, to
                                        --out or stdout
  reindex                               rebuild the search index from the catalog (new index, swapped in at
                                        once) and resync the Redis stock copies and edge cache versions
  status                                search engine, index, documents and the sync backlog

Options:
  --batch <n>             lines per request to core, 1..${MAX_IMPORT_ITEMS} (default ${MAX_IMPORT_ITEMS})
  --json                  one JSON object per line on stdout (import: each skipped line, then the summary)
  -h, --help              show this help

A progress bar is drawn on stderr when it is a terminal (not with --json).`

export const CATALOG_OPTIONS = {
  batch: { type: 'string' as const },
  products: { type: 'string' as const },
  seed: { type: 'string' as const },
  out: { type: 'string' as const },
}

class CatalogUsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CatalogUsageError'
  }
}

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`)
}

function whole(values: Values, name: string, min: number, max: number): number | undefined {
  const raw = values[name]
  if (raw === undefined) return undefined
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new CatalogUsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return Number(raw)
}

function progressBar(): { update: (p: ImportProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format:
        'catalog [{bar}] {percentage}% | {value}/{total} lines | {created} created | {updated} updated | ' +
        '{unchanged} unchanged | {errors} skipped | eta {eta_formatted}',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  return {
    update(p) {
      const payload = { created: p.created, updated: p.updated, unchanged: p.unchanged, errors: p.errors }
      if (!started) {
        bar.start(p.total, p.done, payload)
        started = true
      } else bar.update(p.done, payload)
    },
    stop() {
      if (started) bar.stop()
    },
  }
}

function summary(r: CatalogImportReport): string {
  const counts = `${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.errors} skipped`
  return `${r.file ?? 'catalog'}: ${r.total} lines, ${counts} (${r.seconds.toFixed(1)} s)`
}

async function importCommand(ctx: CatalogContext): Promise<number> {
  const [file, ...extra] = ctx.positionals
  if (!file) throw new CatalogUsageError('missing <file.jsonl>: token-issuer catalog import <file.jsonl>')
  if (extra.length) throw new CatalogUsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  const batchSize = whole(ctx.values, 'batch', 1, MAX_IMPORT_ITEMS)
  const bar = !ctx.json && process.stderr.isTTY ? progressBar() : undefined
  let report: CatalogImportReport
  try {
    report = await importCatalogFile(ctx.cfg, file, { batchSize, onProgress: bar?.update })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CatalogUsageError(`no such file ${file}`)
    throw error
  } finally {
    bar?.stop()
  }
  if (ctx.json) {
    for (const p of report.problems) write(process.stdout, JSON.stringify(p))
    const { problems: _problems, ...rest } = report
    write(process.stdout, JSON.stringify(rest))
  } else {
    for (const p of report.problems)
      write(
        process.stderr,
        `line ${p.line}: ${p.field ? `${p.field}: ` : ''}${p.message.replace(`${p.field}: `, '')} (${p.code})`,
      )
    write(process.stdout, summary(report))
  }
  return report.errors ? EXIT.dataError : EXIT.ok
}

async function sampleCommand(ctx: CatalogContext): Promise<number> {
  if (ctx.positionals.length) throw new CatalogUsageError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}`)
  const products = whole(ctx.values, 'products', 1, 1_000_000) ?? SAMPLE_PRODUCTS
  const seed = whole(ctx.values, 'seed', 0, 2 ** 31) ?? SAMPLE_SEED
  const text = sampleCatalogJsonl({ products, seed })
  const out = ctx.values.out
  if (typeof out === 'string') {
    await writeFile(out, text)
    const lines = text.split('\n').length - 1
    if (ctx.json) write(process.stdout, JSON.stringify({ out, products, seed, lines, bytes: Buffer.byteLength(text) }))
    else write(process.stdout, `wrote ${lines} lines (${products} products, seed ${seed}) to ${out}`)
  } else process.stdout.write(text)
  return EXIT.ok
}

/** The `catalog` command's body (cli.ts's command table entry calls it). */
export async function runCatalogCommand(ctx: CatalogContext): Promise<number> {
  const [sub, ...positionals] = ctx.positionals
  const inner = { ...ctx, positionals }
  try {
    switch (sub) {
      case 'import':
        return await importCommand(inner)
      case 'sample':
        return await sampleCommand(inner)
      case 'reindex': {
        const report = await reindexSearch(ctx.cfg)
        if (ctx.json) write(process.stdout, JSON.stringify(report))
        else
          write(
            process.stdout,
            `reindexed ${report.documents} documents into ${report.index} (${report.engine}), ` +
              `${report.replayed} changes replayed, ${report.ms} ms`,
          )
        return EXIT.ok
      }
      case 'status': {
        const status = await searchStatus(ctx.cfg)
        if (ctx.json) write(process.stdout, JSON.stringify(status))
        else {
          const age = status.oldestPendingMs === null ? '' : `, oldest ${Math.round(status.oldestPendingMs)} ms`
          write(
            process.stdout,
            `search ${status.engine}  index ${status.index}  ${status.documents} documents  ` +
              `${status.outboxPending} changes waiting${age}`,
          )
        }
        return EXIT.ok
      }
      default:
        throw new CatalogUsageError(
          sub === undefined
            ? 'missing subcommand (import, sample, reindex, status)'
            : `unknown subcommand ${JSON.stringify(sub)} (import, sample, reindex, status)`,
        )
    }
  } catch (error) {
    if (!(error instanceof CatalogUsageError)) throw error
    write(process.stderr, `${PROGRAM}: ${error.message}\nRun 'token-issuer catalog --help' for usage.`)
    if (ctx.json) write(process.stdout, JSON.stringify({ error: { code: 'usage', message: error.message } }))
    return EXIT.usage
  }
}
