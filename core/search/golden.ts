/**
 * The golden search set (golden-queries.json): queries with the product each should find, on the sample
 * catalog. Exact names, names with typos, and words still being typed. Recall@10 per kind: the share of the
 * queries whose product is among the first 10 hits. Used by golden.test.ts and `npm run bench:catalog`.
 */
import { readFileSync } from 'node:fs'
import { SearchQuery } from '../../contracts/index.ts'
import type { SearchEngine } from './engine.ts'

export interface GoldenQuery {
  kind: 'exact' | 'typo' | 'prefix'
  q: string
  expect: string
}

export const GOLDEN_QUERIES: GoldenQuery[] = JSON.parse(
  readFileSync(new URL('./golden-queries.json', import.meta.url), 'utf8'),
)

export interface GoldenReport {
  queries: number
  recallAt10: Record<GoldenQuery['kind'], number>
  /** Mean reciprocal rank of the expected product over all queries (0 when not in the first 10). */
  mrr: number
  misses: Array<GoldenQuery & { top: string[] }>
  latenciesMs: number[]
}

export async function runGoldenSet(engine: SearchEngine, queries = GOLDEN_QUERIES): Promise<GoldenReport> {
  const found: Record<GoldenQuery['kind'], { hit: number; all: number }> = {
    exact: { hit: 0, all: 0 },
    typo: { hit: 0, all: 0 },
    prefix: { hit: 0, all: 0 },
  }
  const misses: GoldenReport['misses'] = []
  const latenciesMs: number[] = []
  let reciprocal = 0
  for (const g of queries) {
    const started = performance.now()
    const { hits } = await engine.search(SearchQuery.parse({ q: g.q, limit: 10 }))
    latenciesMs.push(performance.now() - started)
    const top = hits.map((h) => h.slug)
    const rank = top.indexOf(g.expect)
    found[g.kind].all++
    if (rank >= 0) {
      found[g.kind].hit++
      reciprocal += 1 / (rank + 1)
    } else misses.push({ ...g, top })
  }
  const recall = (k: GoldenQuery['kind']) => (found[k].all ? found[k].hit / found[k].all : 1)
  return {
    queries: queries.length,
    recallAt10: { exact: recall('exact'), typo: recall('typo'), prefix: recall('prefix') },
    mrr: reciprocal / queries.length,
    misses,
    latenciesMs,
  }
}
