/**
 * The edge's waiting page in real headless Chromium (Debian's `chromium`, driven by `playwright-core`) against
 * the whole local stack: join → wait (others ahead, the room paused) → reopened tab keeps the place →
 * admitted → Pay → confirmed, and a sold-out sale. A screenshot of each step goes to test-results/browser/.
 *
 * Skipped only when Chromium is missing outside CI (test/support/browser.ts; in CI this must run).
 */
import { randomUUID } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { browserSuite, launchChromium, SHOTS } from '../support/browser.ts'
import { randomId, shuffleKey, type RoomStatus } from '../../contracts/index.ts'
import { SimulatedGateway } from '../../core/payment/simulated-gateway.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'
import { createSale, saleInvariant, steerRoom, type IssuerConfig } from '../../token-issuer/issuer.ts'

const suite = browserSuite('the waiting-page browser test')

let stack: LocalStack
let cfg: IssuerConfig
let browser: Browser

suite('the waiting page in headless Chromium', () => {
  beforeAll(async () => {
    stack = await startLocalStack({ gateway: new SimulatedGateway({ latencyMs: 5 }) })
    cfg = stack.issuerConfig()
    browser = await launchChromium()
  }, 90_000)
  afterAll(async () => {
    await browser?.close()
    await stack?.stop()
  })

  async function sale(saleId: string, stock: number) {
    await createSale(cfg, {
      saleId,
      sku: 'BROWSER-1',
      name: 'Console <Limited> & "Friends"',
      priceCents: 49_900,
      stock,
      startsAt: new Date().toISOString(),
      admitPerMinute: 6_000,
    })
  }

  /** A shopper joining over the API (as an app would). */
  async function apiJoin(saleId: string) {
    const session = randomId()
    const res = await fetch(`${stack.edgeUrl}/api/sales/${saleId}/join`, {
      method: 'POST',
      headers: { accept: 'application/json', 'x-floodgate-session': session },
    })
    expect(res.status).toBe(200)
    return { session, status: (await res.json()) as RoomStatus }
  }

  const state = (page: Page, name: string, timeout = 30_000) =>
    page.waitForSelector(`#app[data-state="${name}"]`, { timeout })
  const text = (page: Page, selector: string) => page.locator(selector).innerText()
  const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true })

  it('should walk join → wait → admitted → pay → confirmed, keeping the place across a reopened tab', async () => {
    const saleId = `browser-${randomUUID().slice(0, 8)}`
    await sale(saleId, 5)
    // Hold admissions so three shoppers who join first over the API are still ahead when the page joins.
    await steerRoom(cfg, saleId, { mode: 'paused' })
    for (let i = 0; i < 3; i++) await apiJoin(saleId)

    const context = await browser.newContext({ viewport: { width: 720, height: 900 } })
    const errors: string[] = []
    const watch = (page: Page) => {
      page.on('pageerror', (e) => errors.push(String(e)))
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
    }
    let page = await context.newPage()
    watch(page)
    const response = await page.goto(`${stack.edgeUrl}/sales/${saleId}`)
    expect(response?.status()).toBe(200)
    expect(response?.headers()['content-type']).toContain('text/html')

    await shot(page, '1-joining-or-waiting')
    await state(page, 'waiting')
    await page.waitForFunction("document.getElementById('sale-name').textContent.startsWith('Console')")
    expect(await text(page, '#sale-name')).toBe('Console <Limited> & "Friends"')
    expect(await text(page, '#wait-lead')).toBe('3 ahead of you, 5 units left')
    expect(await text(page, '#wait-big')).toBe('No. 4 in line')
    // Admission is paused: the page says so rather than promise an ETA.
    expect(await text(page, '#wait-eta')).toBe(
      'Letting people in is paused for a moment: no wait estimate until it resumes. Your place is kept.',
    )
    await shot(page, '2-waiting')

    // Closing and reopening the tab keeps the place (session + ticket cookies): same position, no new place.
    await page.close()
    page = await context.newPage()
    watch(page)
    await page.goto(`${stack.edgeUrl}/sales/${saleId}/wait`)
    await state(page, 'waiting')
    expect(await text(page, '#wait-lead')).toBe('3 ahead of you, 5 units left')
    await shot(page, '3-reopened')

    await steerRoom(cfg, saleId, { mode: 'open' })
    await state(page, 'admitted')
    expect(await text(page, '#pay-timer')).toMatch(/^\d+:\d\d$/)
    expect(await page.locator('#pay').isEnabled()).toBe(true)
    expect(await text(page, '#pay')).toContain('$499.00')
    await shot(page, '4-admitted')

    await page.click('#pay')
    await state(page, 'confirmed')
    expect(await text(page, '[data-step="confirmed"] h2')).toBe('Order confirmed')
    expect(await text(page, '#result-order')).toMatch(/^Order ord_[a-f0-9]{32}$/)
    await shot(page, '5-confirmed')

    // Reopening after the purchase shows the order again (same Idempotency-Key and order), buys nothing twice.
    await page.reload()
    await state(page, 'confirmed')
    const report = await saleInvariant(cfg, saleId)
    expect(report.postgres.confirmed).toBe(1)
    expect(errors).toEqual([])
    await context.close()
  })

  it('should show the shopper their public id and, on "check my place", their drawn place and why', async () => {
    const saleId = `browser-${randomUUID().slice(0, 8)}`
    // A pre-queue long enough for four shoppers to join on a slow day; the draw happens at the start.
    const startsAt = Date.now() + 10_000
    await createSale(cfg, {
      saleId,
      sku: 'BROWSER-2',
      name: 'Drawn drop',
      priceCents: 1_000,
      stock: 1,
      startsAt: new Date(startsAt).toISOString(),
      admitPerMinute: 6_000,
    })
    for (let i = 0; i < 3; i++) await apiJoin(saleId)
    const context = await browser.newContext({ viewport: { width: 720, height: 1000 } })
    const page = await context.newPage()
    await page.goto(`${stack.edgeUrl}/sales/${saleId}`)
    await state(page, 'waiting')
    await page.waitForSelector('#fair:not([hidden])')
    const publicId = await text(page, '#public-id')
    expect(publicId).toMatch(/^[A-Za-z0-9_-]{16}$/)
    expect(Date.now()).toBeLessThan(startsAt)

    await page.click('#check-place')
    await page.waitForSelector('#place-why:has-text("drawn at the start")')

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startsAt - Date.now()) + 500))
    await page.click('#check-place')
    await page.waitForSelector('#place-why:has-text("drawn place")')
    // The page's claim, checked against the public proof: the seed's draw over the published join list.
    const base = `${stack.edgeUrl}/api/sales/${saleId}/fairness`
    const { seed } = (await (await fetch(base)).json()) as { seed: string }
    const joins = ((await (await fetch(`${base}/joins`)).json()) as { entries: Array<{ publicId: string }> }).entries
    const keys = await Promise.all(joins.map(async (j) => ({ id: j.publicId, k: await shuffleKey(seed, j.publicId) })))
    const rank = 1 + keys.sort((a, b) => a.k - b.k).findIndex((k) => k.id === publicId)
    expect(await text(page, '#place-why')).toContain(`drawn place ${rank} of 4`)
    await shot(page, '7-check-my-place')
    await context.close()
  })

  it('should tell a shopper plainly when the sale is sold out', async () => {
    const saleId = `browser-${randomUUID().slice(0, 8)}`
    await sale(saleId, 1)
    const buyer = await apiJoin(saleId)
    expect(buyer.status.state).toBe('admitted')
    const redeem = await fetch(`${stack.edgeUrl}/api/sales/${saleId}/redeem`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
        'x-floodgate-session': buyer.session,
      },
      body: JSON.stringify({ token: buyer.status.token, grant: buyer.status.grant }),
    })
    expect(redeem.status).toBe(202)
    const { orderId } = (await redeem.json()) as { orderId: string }
    const order = await fetch(`${stack.edgeUrl}/api/orders/${orderId}?waitMs=8000`, {
      headers: { 'x-floodgate-session': buyer.session },
    })
    expect(((await order.json()) as { status: string }).status).toBe('confirmed')

    const context = await browser.newContext({ viewport: { width: 720, height: 700 } })
    const page = await context.newPage()
    await page.goto(`${stack.edgeUrl}/sales/${saleId}`)
    // The room learns "sold" from core's outcome report; the page must say so without a reload.
    await state(page, 'sold_out', 30_000)
    expect(await text(page, '[data-step="sold_out"] h2')).toBe('Sold out')
    await shot(page, '6-sold-out')
    await context.close()
  })
})
