/**
 * Accounts and the everyday cart in real headless Chromium against the whole local stack (core + the local
 * edge): sign up → add to the cart as a guest → sign in (the guest cart merges) → check out → order confirmed,
 * with its lines. A screenshot of each step goes to test-results/browser/; the browser must log no errors.
 *
 * Skipped only when Chromium is missing outside CI (test/support/browser.ts; in CI this must run).
 */
import { randomUUID } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { browserSuite, launchChromium, SHOTS } from '../support/browser.ts'
import { FIXTURE, importLines } from '../../core/catalog/fixtures.ts'
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.ts'

const suite = browserSuite('the account browser test')

let stack: LocalStack
let browser: Browser

suite('accounts and the cart in headless Chromium', () => {
  beforeAll(async () => {
    stack = await startLocalStack({ env: { SCRYPT_LOG_N: '12', SIM_PAYMENT_LATENCY_MS: '5' } })
    await importLines(stack.core, FIXTURE)
    browser = await launchChromium()
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    await stack?.stop()
  })

  const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}account-${name}.png`, fullPage: true })

  it('should sign up, fill a guest cart, sign in with it merged, check out and show the confirmed order', async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 1000 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
    const email = `ada-${randomUUID().slice(0, 8)}@example.com`
    const password = 'correct horse battery'

    const res = await page.goto(`${stack.edgeUrl}/account`)
    expect(res?.status()).toBe(200)
    expect(await page.title()).toBe('Your account · Floodgate')
    await page.fill('#signup-email', email)
    await page.fill('#signup-password', password)
    await page.click('#signup button[type="submit"]')
    await page.waitForSelector('body[data-registered="yes"]')
    expect(await page.locator('#status').innerText()).toContain(`Account created for ${email}`)
    await shot(page, '1-signed-up')

    for (const [sku, quantity] of [
      ['BRULEE-TORCH', '2'],
      ['SONIX-BLK', '1'],
    ] as const) {
      await page.fill('#add-sku', sku)
      await page.fill('#add-quantity', quantity)
      await page.click('#add button[type="submit"]')
      await page.waitForSelector(`#lines tr[data-sku="${sku}"]`)
    }
    expect(await page.locator('#who').innerText()).toBe('Shopping as a guest')
    expect(await page.locator('#subtotal').innerText()).toBe('$277.00')
    await shot(page, '2-guest-cart')

    await page.fill('#login-email', email)
    await page.fill('#login-password', password)
    await page.click('#login button[type="submit"]')
    await page.waitForSelector('body[data-signed-in="yes"]')
    expect(await page.locator('#status').innerText()).toBe('Signed in: your guest cart was merged')
    expect(await page.locator('#cart').getAttribute('data-lines')).toBe('2')
    await shot(page, '3-signed-in-merged')

    await page.click('#checkout')
    await page.waitForSelector('#order[data-status]', { timeout: 60_000 })
    expect(await page.locator('#order').getAttribute('data-status')).toBe('confirmed')
    expect(await page.locator('#order-title').innerText()).toBe('Order confirmed: $277.00')
    expect(await page.locator('#order-lines li').allInnerTexts()).toEqual([
      expect.stringMatching(/^2 × .+ at \$39\.00$/),
      expect.stringMatching(/^1 × .+ at \$199\.00$/),
    ])
    await page.waitForSelector('#cart[data-lines="0"]')
    await shot(page, '4-order-confirmed')

    expect(errors).toEqual([])
    await context.close()
  }, 120_000)
})
