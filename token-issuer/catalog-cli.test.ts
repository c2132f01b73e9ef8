import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { catalogSnapshot, drainSearch } from '../core/catalog/fixtures.ts'
import { startTestCore, type TestCore } from '../test/support/core.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
let core: TestCore
let dir: string

beforeAll(async () => {
  core = await startTestCore({ SEARCH_SYNC_INTERVAL_MS: '3600000' }, { listen: true })
  dir = mkdtempSync(join(tmpdir(), 'catalog-cli-'))
})
afterAll(async () => {
  await core?.destroy()
})

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, CORE_URL: core.url!, CORE_ADMIN_TOKEN: core.config.CORE_ADMIN_TOKEN }
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', 'token-issuer/cli.ts', 'catalog', ...args],
      { cwd: ROOT, env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr })
      },
    )
  })
}

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))

describe('token-issuer catalog import', () => {
  const file = () => join(dir, 'catalog.jsonl')
  const content = [
    JSON.stringify({
      type: 'product',
      slug: 'late-category-product',
      name: 'Kettle',
      brand: 'Boil',
      category: 'kitchen',
      variants: [{ sku: 'KETTLE-1', listPriceCents: 2500, stock: 3 }],
    }),
    JSON.stringify({ type: 'category', slug: 'kitchen', name: 'Kitchen', parent: null }),
    '{"type": "product", "slug": "broken",',
    '',
    JSON.stringify({
      type: 'product',
      slug: 'no-price',
      name: 'Pan',
      brand: 'Boil',
      category: 'kitchen',
      variants: [{ sku: 'PAN-1' }],
    }),
    JSON.stringify({
      type: 'product',
      slug: 'toaster',
      name: 'Toaster',
      brand: 'Boil',
      category: 'kitchen',
      variants: [{ sku: 'TOAST-1', listPriceCents: 3900 }],
    }),
  ].join('\n')

  it('should import the good lines (categories first), and name the line and field of each bad one', async () => {
    writeFileSync(file(), content)

    const run = await cli(['import', file(), '--json'])

    expect(run.code, run.stderr).toBe(65)
    const out = lines(run.stdout)
    expect(out.slice(0, 2)).toEqual([
      { line: 3, code: 'invalid_json', field: '', message: expect.stringContaining('not JSON') },
      {
        line: 5,
        code: 'invalid_line',
        field: 'variants.0.listPriceCents',
        message: expect.stringContaining('variants.0.listPriceCents'),
      },
    ])
    expect(out.at(-1)).toMatchObject({ file: file(), total: 5, created: 3, updated: 0, unchanged: 0, errors: 2 })
    const { rows } = await core.db.query('SELECT slug FROM catalog_products ORDER BY slug')
    expect(rows.map((r) => r.slug)).toEqual(['late-category-product', 'toaster'])
  })

  it('should change nothing when run again, and say the same about the bad lines', async () => {
    await cli(['reindex'])
    const before = await catalogSnapshot(core.db, core.redis, core.prefix)

    const run = await cli(['import', file()])

    expect(run.code).toBe(65)
    expect(run.stdout).toContain('5 lines, 0 created, 0 updated, 3 unchanged, 2 skipped')
    expect(run.stderr).toContain('line 3: not JSON')
    expect(run.stderr).toContain('line 5: variants.0.listPriceCents:')
    expect(await catalogSnapshot(core.db, core.redis, core.prefix)).toEqual(before)
  })

  it('should write the sample catalog deterministically and import it cleanly', async () => {
    const out = join(dir, 'sample.jsonl')
    const first = await cli(['sample', '--products', '40', '--out', out, '--json'])
    expect(first.code).toBe(0)
    expect(lines(first.stdout)[0]).toMatchObject({ out, products: 40, lines: 110 })
    const again = await cli(['sample', '--products', '40'])
    expect(again.stdout).toBe((await import('node:fs')).readFileSync(out, 'utf8'))

    const run = await cli(['import', out, '--batch', '25', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(lines(run.stdout).at(-1)).toMatchObject({ total: 110, errors: 0 })
  })

  it('should reindex and report the search status', async () => {
    const reindex = await cli(['reindex', '--json'])
    expect(reindex.code, reindex.stderr).toBe(0)
    expect(lines(reindex.stdout)[0]).toMatchObject({ engine: 'postgres', index: 'search_documents', documents: 42 })

    // The imports left changes in the search outbox; core's sync job drains it on its own schedule (hourly in
    // this test), so drain it here instead of waiting on a clock, then ask the CLI.
    const before = await cli(['status', '--json'])
    expect(lines(before.stdout)[0]).toMatchObject({ engine: 'postgres', documents: 42 })
    await drainSearch(core)
    const status = await cli(['status', '--json'])
    expect(lines(status.stdout)[0]).toMatchObject({ engine: 'postgres', documents: 42, outboxPending: 0 })
  })

  it('should refuse bad arguments with exit 64', async () => {
    for (const args of [['import', join(dir, 'missing.jsonl')], ['import', 'x', '--batch', '0'], ['frobnicate']]) {
      const run = await cli([...args, '--json'])
      expect(run.code, args.join(' ')).toBe(64)
      expect(lines(run.stdout).at(-1).error.code).toBe('usage')
    }
  })
})
