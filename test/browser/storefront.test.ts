/**
 * The storefront in real headless Chromium against the whole local stack (a slice of the sample catalog, a
 * drop on the demo console): home → category (filtered by brand) → product (availability filled in from the
 * drop's waiting room) → search with a typo finds it → the product's drop → its waiting page. A screenshot
 * of each step goes to test-results/browser/; the browser must log no errors.
 *
 * Skipped only when Chromium is missing outside CI (test/support/browser.ts; in CI this must run).
 */
import { randomUUID } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { browserSuite, launchChromium, SHOTS } from '../support/browser.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'
import { loadSampleCatalog } from '../../token-issuer/catalog.ts'
import { createSale } from '../../token-issuer/issuer.ts'

const suite = browserSuite('the storefront browser test')

let stack: LocalStack
let browser: Browser
const saleId = `shop-${randomUUID().slice(0, 8)}`

suite('the storefront in headless Chromium', () => {
  beforeAll(async () => {
    stack = await startLocalStack()
    const cfg = stack.issuerConfig()
    await loadSampleCatalog(cfg, () => {}, { products: 1500 })
    await createSale(cfg, {
      saleId,
      sku: 'FG-CONSOLE-1',
      name: 'Floodgate demo console',
      priceCents: 49_900,
      stock: 40,
      startsAt: new Date(Date.now() + 3_600_000).toISOString(),
      admitPerMinute: 600,
    })
    browser = await launchChromium()
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    await stack?.stop()
  })

  const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}store-${name}.png`, fullPage: true })

  it('should walk home → category → product → search with a typo → the drop → its waiting page', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))

    const home = await page.goto(`${stack.edgeUrl}/`)
    expect(home?.status()).toBe(200)
    expect(await page.title()).toBe('Home · Floodgate')
    await expect(page.locator('h2#drops-title').innerText()).resolves.toBe('Flash drops')
    await shot(page, '1-home')

    await page.click('nav.departments >> text=Electronics')
    await page.waitForURL(/\/c\/electronics$/)
    expect(await page.locator('h1').innerText()).toBe('Electronics')
    await page.click('nav[aria-label="Subcategories"] >> text=Gaming Consoles')
    await page.waitForURL(/\/c\/gaming-consoles$/)
    await page.check('aside.filters input[name="brand"][value="Floodgate"]')
    await page.click('aside.filters button[type="submit"]')
    await page.waitForURL(/brand=Floodgate/)
    await shot(page, '2-category')

    await page.click('a.title >> text=Floodgate Demo Console')
    await page.waitForURL(/\/p\/floodgate-demo-console$/)
    expect(await page.locator('h1').innerText()).toBe('Floodgate Demo Console')
    // The cached page says nothing about stock; the script fills it in from the drop's waiting room.
    await page.waitForSelector('section.drop [data-sku="FG-CONSOLE-1"][data-state="drop_scheduled"]')
    expect(await page.locator('section.drop [data-sku="FG-CONSOLE-1"]').innerText()).toBe(
      'Drop: 40 units, starting soon',
    )
    await shot(page, '3-product')

    await page.fill('#q', 'floodgate de')
    // The datalist fills from /api/search/suggest (a locator, not an evaluated string: the page's CSP forbids eval).
    await page.locator('#suggestions option').first().waitFor({ state: 'attached' })
    await page.fill('#q', 'flodgate consle')
    await page.press('#q', 'Enter')
    await page.waitForURL(/\/search\?q=flodgate\+consle/)
    expect(await page.locator('.didyoumean').innerText()).toBe('Did you mean floodgate console?')
    await expect(page.locator('a.title >> text=Floodgate Demo Console').count()).resolves.toBe(1)
    await shot(page, '4-search')

    await page.click('a.title >> text=Floodgate Demo Console')
    await page.waitForURL(/\/p\/floodgate-demo-console$/)
    await page.click('section.drop a.button')
    await page.waitForURL(new RegExp(`/sales/${saleId}$`))
    await page.waitForSelector('#app[data-state="waiting"]', { timeout: 30_000 })
    expect(await page.locator('#wait-title').innerText()).toMatch(/^You are in the line/)
    await shot(page, '5-waiting')

    expect(errors).toEqual([])
    await context.close()
  })
})
