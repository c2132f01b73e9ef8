/**
 * The operator's side of the catalog: import a JSON Lines file into core (categories first, then products, in
 * batches), rebuild the search index, read its status. `catalog-cli.ts` is the command line around it; the
 * demo and the tests call it directly.
 *
 * Re-running an import is safe: a line identical to what core has is `unchanged` and changes nothing; a bad
 * line is reported with its line number and field and skipped whole; the good lines are written.
 */
import { readFile } from 'node:fs/promises'
import {
  ImportResponse,
  MAX_IMPORT_ITEMS,
  ReindexReport,
  SearchStatus,
  type ImportProblem,
} from '../contracts/index.ts'
import { z } from 'zod'
import { SAMPLE_PRODUCTS, sampleCatalog } from '../core/catalog/sample-catalog.ts'
import { call, coreEndpoint, type IssuerConfig } from './issuer.ts'

export interface ImportProgress {
  total: number
  done: number
  created: number
  updated: number
  unchanged: number
  errors: number
}

export interface CatalogImportReport extends ImportProgress {
  file?: string
  /** Every rejected line, in line order: what to fix and where. */
  problems: Array<ImportProblem & { line: number }>
  seconds: number
}

export interface ImportOptions {
  batchSize?: number
  onProgress?: (p: ImportProgress) => void
}

/** Lines of a JSON Lines text: blank lines skipped, a line that is not JSON is a problem of its own. */
export function parseJsonLines(text: string): {
  items: Array<{ line: number; item: unknown }>
  problems: CatalogImportReport['problems']
} {
  const items: Array<{ line: number; item: unknown }> = []
  const problems: CatalogImportReport['problems'] = []
  text.split('\n').forEach((raw, i) => {
    const line = i + 1
    if (raw.trim() === '') return
    try {
      items.push({ line, item: JSON.parse(raw) })
    } catch (error) {
      problems.push({ line, code: 'invalid_json', field: '', message: `not JSON: ${(error as Error).message}` })
    }
  })
  return { items, problems }
}

/** Imports lines into core: every category line before any product line, `batchSize` lines per request. */
export async function importCatalog(
  cfg: IssuerConfig,
  items: Array<{ line: number; item: unknown }>,
  { batchSize = MAX_IMPORT_ITEMS, onProgress }: ImportOptions = {},
  problems: CatalogImportReport['problems'] = [],
): Promise<CatalogImportReport> {
  const started = performance.now()
  const size = Math.max(1, Math.min(MAX_IMPORT_ITEMS, batchSize))
  const isCategory = (x: { item: unknown }) => (x.item as { type?: unknown } | null)?.type === 'category'
  const ordered = [...items.filter(isCategory), ...items.filter((x) => !isCategory(x))]
  const progress: ImportProgress = {
    total: items.length + problems.length,
    done: problems.length,
    created: 0,
    updated: 0,
    unchanged: 0,
    errors: problems.length,
  }
  onProgress?.({ ...progress })
  for (let i = 0; i < ordered.length; i += size) {
    const batch = ordered.slice(i, i + size)
    const { data } = await call(coreEndpoint(cfg), 'POST', '/admin/catalog/import', ImportResponse, { items: batch })
    for (const r of data.results) if (r.error) problems.push({ line: r.line, ...r.error })
    progress.done += batch.length
    progress.created += data.created
    progress.updated += data.updated
    progress.unchanged += data.unchanged
    progress.errors += data.errors
    onProgress?.({ ...progress })
  }
  problems.sort((a, b) => a.line - b.line)
  return { ...progress, problems, seconds: (performance.now() - started) / 1000 }
}

export async function importCatalogFile(
  cfg: IssuerConfig,
  file: string,
  options: ImportOptions = {},
): Promise<CatalogImportReport> {
  const { items, problems } = parseJsonLines(await readFile(file, 'utf8'))
  return { ...(await importCatalog(cfg, items, options, problems)), file }
}

/** A full reindex in core: a new index from every product, swapped in at once. */
export async function reindexSearch(cfg: IssuerConfig): Promise<ReindexReport> {
  return (await call(coreEndpoint(cfg), 'POST', '/admin/search/reindex', ReindexReport, {})).data
}

export async function searchStatus(cfg: IssuerConfig): Promise<SearchStatus> {
  return (await call(coreEndpoint(cfg), 'GET', '/admin/search/status', SearchStatus)).data
}

/** Waits until core's search outbox is empty: every imported product is searchable. */
export async function drainSearch(cfg: IssuerConfig): Promise<{ taken: number }> {
  return (
    await call(
      coreEndpoint(cfg),
      'POST',
      '/admin/search/drain',
      z.object({ taken: z.number().int() }).passthrough(),
      {},
    )
  ).data
}

/**
 * Loads the sample catalog (`products` of it) into core and waits until search has indexed it: the demo's
 * storefront. Safe to run again (unchanged lines change nothing). `say` gets one line about it.
 */
export async function loadSampleCatalog(
  cfg: IssuerConfig,
  say: (line: string) => void = () => {},
  { products = SAMPLE_PRODUCTS }: { products?: number } = {},
): Promise<CatalogImportReport & { indexedSeconds: number }> {
  const report = await importCatalog(
    cfg,
    sampleCatalog({ products }).map((item, i) => ({ line: i + 1, item })),
  )
  const started = performance.now()
  await drainSearch(cfg)
  const indexedSeconds = (performance.now() - started) / 1000
  say(
    `sample catalog: ${report.total} lines (${products} products) imported in ${report.seconds.toFixed(1)} s, ` +
      `searchable ${indexedSeconds.toFixed(1)} s later; the storefront is at the edge's /`,
  )
  return { ...report, indexedSeconds }
}
