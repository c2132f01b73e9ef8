import { createMiddleware } from 'hono/factory'
import { HEADER_CLIENT, HEADER_SESSION } from '../../../contracts/index.ts'
import { apiError } from '../../http-error.ts'

/**
 * Refuses a state-changing request another site could have made a browser send (a cross-site form POST, which
 * withholds the SameSite=Lax session cookie: the join would mint a new session and the shopper's place would be
 * gone). Accepted: `Sec-Fetch-Site: same-origin` or `none` (the user typed it); else an `Origin` equal to the
 * request's; else a custom header (`x-floodgate-client`, `x-floodgate-session`, `Authorization`), which no form can send and a
 * cross-origin script could only send after a CORS preflight this edge never grants. Anything else: 403
 * `cross_site_request`, before any session is read or minted.
 *
 * @example
 * ```ts
 * app.post('/api/sales/:saleId/join', sameOrigin(), session({ missing: 'create' }), handler)
 * ```
 */
export const sameOrigin = () =>
  createMiddleware(async function sameOrigin(c, next) {
    const site = c.req.header('sec-fetch-site')
    const origin = c.req.header('origin')
    const ownOrigin = new URL(c.req.url).origin
    const customHeader = Boolean(
      c.req.header(HEADER_CLIENT) || c.req.header(HEADER_SESSION) || c.req.header('authorization'),
    )
    let allowed: boolean
    if (site !== undefined)
      allowed = site === 'same-origin' || site === 'none' || (site === 'same-site' && customHeader)
    else if (origin !== undefined) allowed = origin === ownOrigin || customHeader
    else allowed = customHeader
    if (!allowed) {
      const seen =
        site !== undefined ? `Sec-Fetch-Site: ${site}` : origin !== undefined ? `Origin: ${origin}` : 'no Origin'
      throw apiError(
        'cross_site_request',
        `refused a ${c.req.method} from another site (${seen}); apps send the ${HEADER_CLIENT} header`,
        site !== undefined ? 'sec-fetch-site' : 'origin',
      )
    }
    await next()
  })
