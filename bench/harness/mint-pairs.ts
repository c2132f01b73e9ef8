/**
 * `npm run bench:pairs -- --sale drop-1 --count 50000 --out pairs.json [--ttl-minutes 30]`
 *
 * Writes redeemable purchase token + grant pairs for bench/k6/redeem-storm.js: what the token-issuer
 * and the waiting room would hand N admitted shoppers, signed with TOKEN_SECRET and GRANT_SECRET from
 * the environment (core's development defaults when unset, like core and the token-issuer). Each pair
 * has its own shopper session. The sale must exist in core (`npm run token-issuer -- create …`) with
 * enough stock; the pairs bypass the waiting room.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { CoreConfig } from '../../core/config.ts'
import { mintRedemptions } from './pairs.ts'

const { values } = parseArgs({
  options: {
    sale: { type: 'string' },
    count: { type: 'string', default: '10000' },
    out: { type: 'string', default: 'pairs.json' },
    'ttl-minutes': { type: 'string', default: '30' },
  },
})
if (!values.sale) {
  process.stderr.write(
    'usage: npm run bench:pairs -- --sale <saleId> [--count 10000] [--out pairs.json] [--ttl-minutes 30]\n',
  )
  process.exit(2)
}
const { NODE_ENV, TOKEN_SECRET, GRANT_SECRET } = CoreConfig.shape
const env = z
  .object({ NODE_ENV, TOKEN_SECRET, GRANT_SECRET })
  .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')))
if (
  env.NODE_ENV === 'production' &&
  (env.TOKEN_SECRET.startsWith('dev-only-') || env.GRANT_SECRET.startsWith('dev-only-'))
) {
  process.stderr.write("set TOKEN_SECRET and GRANT_SECRET to the sale's secrets\n")
  process.exit(2)
}
const pairs = mintRedemptions({
  tokenSecret: env.TOKEN_SECRET,
  grantSecret: env.GRANT_SECRET,
  saleId: values.sale,
  count: Number(values.count),
  ttlMs: Number(values['ttl-minutes']) * 60_000,
}).map(({ session, token, grant }) => ({ session, token, grant }))
writeFileSync(values.out, JSON.stringify(pairs))
process.stdout.write(`wrote ${pairs.length} token + grant pairs for sale ${values.sale} to ${values.out}\n`)
