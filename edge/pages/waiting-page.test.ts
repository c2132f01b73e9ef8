import { exports } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { RoomStatus } from '../../contracts/index.ts'
import { makeShoppers, mockCore, openRoom, roomConfig, uniqueSaleId } from '../../waiting-room/fixtures.ts'
import { escapeHtml } from './waiting-page.ts'

const BASE = 'https://edge.test'

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { headers }))
  return { res, status: res.status, text: await res.text() }
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return btoa(String.fromCharCode(...new Uint8Array(digest)))
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('when a browser opens the waiting page', () => {
  it('should serve the self-contained HTML page for the sale without calling core or the room', async () => {
    const calls = mockCore(() => Response.json({}))
    const saleId = uniqueSaleId('page')

    const { res, status, text } = await get(`/sales/${saleId}`, { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' })

    expect(status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(text).toMatch(/^<!doctype html>/)
    expect(text).toContain(`data-sale="${saleId}"`)
    expect(text).toContain(`<title>Waiting room · ${saleId}</title>`)
    expect(text).toContain('<html lang="en">')
    expect(text).toContain('aria-live="polite"')
    // No external assets: nothing is loaded from another address.
    expect(text).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(calls).toHaveLength(0)
  })

  it('should allow exactly its own inline script and style in the Content-Security-Policy', async () => {
    const { res, text } = await get(`/sales/${uniqueSaleId('page')}/wait`)
    const csp = res.headers.get('content-security-policy') ?? ''
    const script = text.match(/<script>([\s\S]*)<\/script>/)![1]!
    const style = text.match(/<style>([\s\S]*)<\/style>/)![1]!

    expect(csp).toContain(`default-src 'none'`)
    expect(csp).toContain(`script-src 'sha256-${await sha256(script)}'`)
    expect(csp).toContain(`style-src 'sha256-${await sha256(style)}'`)
    expect(csp).toContain(`connect-src 'self'`)
  })

  it('should refuse a bad sale id with a 400 JSON error and reflect nothing as HTML', async () => {
    const bad = await get('/sales/%3Cscript%3Ealert(1)%3C%2Fscript%3E', { accept: 'text/html' })
    const upper = await get('/sales/NOT_A_SALE/wait', { accept: 'text/html' })

    expect(bad.status).toBe(400)
    expect(bad.res.headers.get('content-type')).toContain('application/json')
    expect(JSON.parse(bad.text).error).toMatchObject({ code: 'invalid_path', field: 'saleId' })
    expect(bad.text).not.toContain('<script>')
    expect(upper.status).toBe(400)
    expect(JSON.parse(upper.text).error.code).toBe('invalid_path')
  })

  it('should escape everything it interpolates', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;',
    )
    expect(escapeHtml('drop-2026')).toBe('drop-2026')
  })
})

describe('when an app asks the waiting page address for JSON', () => {
  it('should answer like the status endpoint, with the same session and ticket', async () => {
    const saleId = uniqueSaleId('page')
    await openRoom(saleId, roomConfig(saleId, Date.now() - 10_000), 1)
    const [first, second] = await makeShoppers(2)
    const tickets: string[] = []
    for (const p of [first!, second!]) {
      const joined = await exports.default.fetch(
        new Request(`${BASE}/api/sales/${saleId}/join`, {
          method: 'POST',
          headers: { 'x-floodgate-session': p.session },
        }),
      )
      expect(joined.status).toBe(200)
      tickets.push(((await joined.json()) as RoomStatus).ticket!)
    }
    const headers = {
      accept: 'application/json',
      'x-floodgate-session': second!.session,
      'x-floodgate-ticket': tickets[1]!,
    }

    const page = await get(`/sales/${saleId}`, headers)
    const api = await get(`/api/sales/${saleId}/status`, headers)
    const anonymous = await get(`/sales/${saleId}`, { accept: 'application/json' })

    expect(page.status).toBe(200)
    expect(page.res.headers.get('content-type')).toContain('application/json')
    expect(JSON.parse(page.text) as RoomStatus).toMatchObject({ saleId, state: 'waiting', position: 1, ahead: 0 })
    expect(JSON.parse(page.text)).toEqual(JSON.parse(api.text))
    expect(anonymous.status).toBe(400)
    expect(JSON.parse(anonymous.text).error.code).toBe('missing_session')
  })
})
