import { createHmac, timingSafeEqual } from 'node:crypto'
import { QuotePayload } from '../../contracts/index.ts'

const PREFIX = 'fgc1'

export type QuoteVerdict = { ok: true; quote: QuotePayload } | { ok: false; code: 'quote_invalid' | 'quote_expired' }

/**
 * A signed price quote (seed 003 §5.4): the cart's lines at the prices shown, valid until `exp`. Checkout
 * charges these prices, whatever the catalog says meanwhile, and only for exactly these lines.
 * `fgc1.<base64url(JSON)>.<base64url(HMAC-SHA256(key, "fgc1." payload))>`.
 */
export function signQuote(payload: QuotePayload, key: string): string {
  const body = `${PREFIX}.${Buffer.from(JSON.stringify(QuotePayload.parse(payload))).toString('base64url')}`
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`
}

/** Checks the MAC in constant time, then the payload and its expiry (`nowMs`). */
export function verifyQuote(signed: string, key: string, nowMs: number): QuoteVerdict {
  const parts = signed.split('.')
  if (parts.length !== 3 || parts[0] !== PREFIX) return { ok: false, code: 'quote_invalid' }
  const mac = Buffer.from(parts[2]!, 'base64url')
  const expected = createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest()
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return { ok: false, code: 'quote_invalid' }
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'))
  } catch {
    return { ok: false, code: 'quote_invalid' }
  }
  const parsed = QuotePayload.safeParse(json)
  if (!parsed.success) return { ok: false, code: 'quote_invalid' }
  if (parsed.data.exp * 1000 <= nowMs) return { ok: false, code: 'quote_expired' }
  return { ok: true, quote: parsed.data }
}
