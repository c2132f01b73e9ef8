/**
 * Real headless Chromium for the pages shoppers see (Debian's `chromium`, driven by `playwright-core`).
 * `CHROMIUM_PATH` names another binary. Missing outside CI, the browser suites are skipped with a warning; in CI
 * (`.ci/run` installs it) they must run.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import { describe } from 'vitest'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Where the browser tests put their screenshots. */
export const SHOTS = fileURLToPath(new URL('../../test-results/browser/', import.meta.url))

/** `describe` when Chromium is there (or in CI, where its absence must fail), else `describe.skip`. */
export function browserSuite(what: string) {
  const available = existsSync(CHROMIUM)
  if (!available && !process.env.CI) {
    console.warn(`test/browser: ${CHROMIUM} is missing, skipping ${what} (apt-get install -y chromium)`)
  }
  return describe.skipIf(!available && !process.env.CI)
}

export async function launchChromium(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true })
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
