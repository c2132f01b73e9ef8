/**
 * `GET /img/p/:slug/:n.svg`: the sample catalog's product images, drawn at the edge (no image host, no
 * external asset): a colour from the slug's hash and the product's initials. The same URL is always the same
 * picture, so browsers and the edge may keep it for a day.
 */
import { fnv1a } from '../../contracts/index.ts'
import { escapeHtml } from '../pages/waiting-page.ts'

export function placeholderSvg(slug: string, view: number): string {
  const hash = fnv1a(`${slug}:${view}`)
  const hue = hash % 360
  const words = slug.split('-').filter((w) => /^[a-z]/.test(w))
  const initials = escapeHtml(((words[0]?.[0] ?? '?') + (words[1]?.[0] ?? '')).toUpperCase())
  const label = escapeHtml(words.slice(0, 3).join(' '))
  const font = 'font-family="system-ui, sans-serif" text-anchor="middle"'
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 600" width="600" height="600" role="img"
 aria-label="${label}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},55%,58%)"/>
<stop offset="1" stop-color="hsl(${(hue + 40) % 360},60%,38%)"/></linearGradient></defs>
<rect width="600" height="600" fill="url(#g)"/>
<circle cx="${150 + (hash % 300)}" cy="${150 + ((hash >> 8) % 300)}" r="${80 + ((hash >> 16) % 120)}"
 fill="rgba(255,255,255,.12)"/>
<text x="300" y="330" ${font} font-size="160" font-weight="700" fill="#fff">${initials}</text>
<text x="300" y="420" ${font} font-size="26" fill="rgba(255,255,255,.85)">${label}</text>
</svg>`
}

export function imageResponse(slug: string, view: number): Response {
  return new Response(placeholderSvg(slug, view), {
    headers: {
      'content-type': 'image/svg+xml; charset=utf-8',
      'cache-control': 'public, max-age=86400',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      'x-content-type-options': 'nosniff',
    },
  })
}
