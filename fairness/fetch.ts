/**
 * Reads a sale's public fairness proof from an edge: the summary, then every page of the pre-queue join list
 * and of the admission log (following `next`), and the sale's public catalog entry for its stock. Public
 * endpoints only; each answer is checked against its contract schema.
 */
import type { z } from 'zod'
import {
  FairnessAdmissionsPage,
  FairnessJoinsPage,
  FairnessSummary,
  PublicSale,
  type FairnessAdmission,
  type FairnessJoin,
} from '../contracts/index.ts'
import type { PublicFairness } from './verify.ts'

export class FetchError extends Error {
  constructor(
    readonly url: string,
    readonly status: number | null,
    message: string,
  ) {
    super(message)
    this.name = 'FetchError'
  }
}

type Fetch = (url: string) => Promise<Response>

async function read<S extends z.ZodType>(fetcher: Fetch, url: string, schema: S): Promise<z.output<S>> {
  let res: Response
  try {
    res = await fetcher(url)
  } catch (err) {
    throw new FetchError(url, null, `${url}: ${String(err)}`)
  }
  const text = await res.text()
  if (!res.ok) throw new FetchError(url, res.status, `${url} answered ${res.status}: ${text.slice(0, 300)}`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new FetchError(url, res.status, `${url} did not answer JSON`)
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    throw new FetchError(url, res.status, `${url}: unexpected answer (${parsed.error.issues[0]?.message})`)
  }
  return parsed.data
}

type Page<T> = { shard: number; entries: T[]; total: number | null; next: string | null }

/** Every entry of a list, and each shard's total from its last page. */
async function allPages<T>(
  fetcher: Fetch,
  first: string,
  schema: z.ZodType<Page<T>>,
): Promise<{ entries: T[]; totals: Array<number | undefined> }> {
  const entries: T[] = []
  const totals: Array<number | undefined> = []
  let cursor: string | null = null
  for (;;) {
    const url: string = cursor === null ? first : `${first}?cursor=${encodeURIComponent(cursor)}`
    const page = await read(fetcher, url, schema)
    entries.push(...page.entries)
    if (page.total !== null) totals[page.shard] = page.total
    if (page.next === null) return { entries, totals }
    cursor = page.next
  }
}

export async function fetchPublicFairness(
  edgeUrl: string,
  saleId: string,
  fetcher: Fetch = (url) => fetch(url, { headers: { accept: 'application/json' } }),
): Promise<PublicFairness> {
  const base = edgeUrl.replace(/\/+$/, '')
  const summary = await read(fetcher, `${base}/api/sales/${encodeURIComponent(saleId)}/fairness`, FairnessSummary)
  const joins = await allPages<FairnessJoin>(fetcher, `${base}${summary.joins}`, FairnessJoinsPage)
  const admissions = await allPages<FairnessAdmission>(fetcher, `${base}${summary.admissions}`, FairnessAdmissionsPage)
  // The stock is a cross-check, not part of the proof: the catalog may be down while the proof is not.
  let stock: number | null = null
  try {
    stock = (await read(fetcher, `${base}/api/sales/${encodeURIComponent(saleId)}`, PublicSale)).stock
  } catch {
    stock = null
  }
  return {
    summary,
    joins: joins.entries,
    admissions: admissions.entries,
    stock,
    totals: { joins: joins.totals, admissions: admissions.totals },
  }
}
