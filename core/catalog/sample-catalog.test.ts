import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { parseImportLine } from '../../contracts/index.ts'
import { HERO_PRODUCTS, sampleCatalog, sampleCatalogJsonl } from './sample-catalog.ts'

describe('the sample catalog', () => {
  const lines = sampleCatalog()

  it('should hold 10,000 valid products in at least 50 categories, every SKU once', () => {
    const products = lines.filter((l) => l.type === 'product')
    const categories = lines.filter((l) => l.type === 'category')
    expect(products).toHaveLength(10_000)
    expect(categories.length).toBeGreaterThanOrEqual(50)
    expect(new Set(products.map((p) => p.category)).size).toBeGreaterThanOrEqual(50)
    for (const line of lines) expect(parseImportLine(line).ok).toBe(true)
    const skus = products.flatMap((p) => p.variants.map((v) => v.sku))
    expect(new Set(skus).size).toBe(skus.length)
    expect(new Set(products.map((p) => p.slug)).size).toBe(products.length)
    expect(skus).toContain('FG-CONSOLE-1')
    for (const hero of HERO_PRODUCTS) expect(products.some((p) => p.slug === hero.slug)).toBe(true)
  })

  it('should be the same bytes every time', () => {
    const digest = (text: string) => createHash('sha256').update(text).digest('hex')
    expect(digest(sampleCatalogJsonl())).toBe(digest(sampleCatalogJsonl()))
    expect(sampleCatalogJsonl({ products: 50 })).toBe(sampleCatalogJsonl({ products: 50 }))
    expect(sampleCatalogJsonl({ seed: 1, products: 200 })).not.toBe(sampleCatalogJsonl({ seed: 2, products: 200 }))
  })
})
