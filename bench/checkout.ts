/**
 * `npm run bench:checkout` — accounts and cart checkout on this machine, on real Postgres and Redis (a fresh
 * schema and key prefix, dropped afterwards):
 *
 *   crowd           --shoppers signed-in accounts check out one unit of a SKU with --stock units, all at once;
 *                   refused shoppers retry whenever a unit comes back (--decline-rate of payments declined):
 *                   confirmed, oversold, reservations left
 *   cart orders     --orders two-line cart orders checked out at once, until every saga settled: orders/s
 *   account limit   --accounts accounts, each redeeming a drop's grants from 3 sessions (per-shopper limit 1):
 *                   units bought above the limit
 *   login           --logins logins through POST /v1/auth/login, 4 at a time, default scrypt cost: p95
 *   edge JWT verify the shared contracts/access-token.ts verify (Web Crypto, public key only), --verifies times
 *
 *   npm run bench:checkout -- [--json] [--shoppers 1000] [--stock 10] [--decline-rate 0.3] [--orders 200]
 *                             [--accounts 50] [--logins 50] [--verifies 5000]
 * With --json the last line of stdout is one JSON object.
 */
import { parseArgs } from 'node:util'
import {
  ACCESS_TOKEN_ISSUER,
  randomId,
  shopperOfAccount,
  signAccessToken,
  verifyAccessToken,
} from '../contracts/index.ts'
import { PasswordHasher } from '../core/account/passwords.ts'
import { checkoutCrowd } from '../core/cart/fixtures.ts'
import { FIXTURE, importLines } from '../core/catalog/fixtures.ts'
import { createTestSale, startTestCore, type TestCore } from '../test/support/core.ts'
import { RoomDouble } from '../test/support/room-double.ts'
import { tokenAndGrant } from '../test/support/tokens.ts'
import { percentile } from './shoppers.ts'

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    shoppers: { type: 'string', default: '1000' },
    stock: { type: 'string', default: '10' },
    'decline-rate': { type: 'string', default: '0.3' },
    orders: { type: 'string', default: '200' },
    accounts: { type: 'string', default: '50' },
    logins: { type: 'string', default: '50' },
    verifies: { type: 'string', default: '5000' },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  console.log(
    'usage: npm run bench:checkout -- [--json] [--shoppers N] [--stock N] [--decline-rate R] [--orders N]\n' +
      '         [--accounts N] [--logins N] [--verifies N]',
  )
  process.exit(0)
}
const num = (name: keyof typeof args) => {
  const value = Number(args[name])
  if (!Number.isFinite(value) || value < 0) {
    console.error(`--${name} must be a non-negative number`)
    process.exit(64)
  }
  return value
}
const say = (line: string) => (args.json ? process.stderr : process.stdout).write(`${line}\n`)
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits

async function signedIn(core: TestCore, i: number, hash: string, tag: string) {
  const account = (await core.accounts.store.create(`bench-${tag}-${i}@example.com`, hash, null))!
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    iss: ACCESS_TOKEN_ISSUER,
    sub: account.id,
    role: 'customer' as const,
    sid: 'fam_bench',
    iat: now,
    exp: now + 600,
  }
  return { id: account.id, token: await signAccessToken(claims, core.config.ACCESS_TOKEN_KEY) }
}

/** Two-line carts, plenty of stock, all checked out at once: orders confirmed per second until all settled. */
async function cartOrders(core: TestCore, orders: number): Promise<{ confirmed: number; perSec: number }> {
  const hash = await new PasswordHasher(10).hash('bench password 000')
  for (const sku of ['BASSLINE-PARTY', 'BRULEE-TORCH']) {
    await core.app.request(`/admin/catalog/variants/${sku}/stock`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ quantity: orders * 2 }),
    })
  }
  const people = []
  for (let i = 0; i < orders; i++) {
    const person = await signedIn(core, i, hash, 'orders')
    const cart = await core.carts.store.ofAccount(person.id)
    await core.carts.store.setLine(cart.id, 'BASSLINE-PARTY', 2, 50)
    await core.carts.store.setLine(cart.id, 'BRULEE-TORCH', 1, 50)
    people.push({ ...person, quote: (await core.carts.quote(person.id)).quote })
  }
  const started = performance.now()
  await Promise.all(
    people.map(async (p, i) => {
      const res = await core.app.request('/v1/cart/checkout', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${p.token}`,
          'content-type': 'application/json',
          'idempotency-key': `bench-order-${i}`,
        },
        body: JSON.stringify({ quote: p.quote }),
      })
      if (res.status !== 202) throw new Error(`cart order: ${res.status} ${await res.text()}`)
    }),
  )
  await core.carts.settled()
  const seconds = (performance.now() - started) / 1000
  const { rows } = await core.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM orders
      WHERE kind = 'cart' AND status = 'CONFIRMED' AND idempotency_key LIKE 'bench-order-%'`,
  )
  return { confirmed: rows[0]!.n, perSec: rows[0]!.n / seconds }
}

/** Each account redeems a drop's grants from 3 sessions; the per-shopper limit is 1: units above it. */
async function accountLimitBreaches(core: TestCore, accounts: number): Promise<number> {
  const saleId = `bench-limit-${randomId(4)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')}`
  await createTestSale(core, saleId, accounts * 3, { perShopperLimit: 1 })
  const hash = await new PasswordHasher(10).hash('bench password 000')
  let breaches = 0
  for (let i = 0; i < accounts; i++) {
    const person = await signedIn(core, i, hash, saleId)
    const shopper = await shopperOfAccount(person.id)
    const answers = await Promise.all(
      [1, 2, 3].map(async (n) => {
        const { token, grant } = await tokenAndGrant(core.config, saleId, shopper)
        const res = await core.app.request('/v1/redeem', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-floodgate-session': randomId(),
            'idempotency-key': `bench-limit-${i}-${n}`,
            authorization: `Bearer ${person.token}`,
          },
          body: JSON.stringify({ token, grant }),
        })
        await res.text()
        return res.status
      }),
    )
    breaches += Math.max(0, answers.filter((s) => s === 202).length - 1)
  }
  return breaches
}

async function loginP95(core: TestCore, logins: number): Promise<number> {
  const email = `bench-login-${randomId(4).toLowerCase()}@example.com`.replace(/[^a-z0-9@.-]/g, 'x')
  const password = 'bench password for logins'
  const res = await core.app.request('/v1/auth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  })
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`)
  const times: number[] = []
  let next = 0
  await Promise.all(
    [1, 2, 3, 4].map(async () => {
      while (next++ < logins) {
        const started = performance.now()
        const login = await core.app.request('/v1/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password }),
        })
        await login.text()
        if (login.status !== 200) throw new Error(`login: ${login.status}`)
        times.push(performance.now() - started)
      }
    }),
  )
  return percentile(times, 95)
}

async function jwtVerifyUs(core: TestCore, verifies: number): Promise<number> {
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    iss: ACCESS_TOKEN_ISSUER,
    sub: `acc_${'a'.repeat(32)}`,
    role: 'customer' as const,
    sid: 'fam_x',
    iat: now,
    exp: now + 600,
  }
  const token = await signAccessToken(claims, core.config.ACCESS_TOKEN_KEY)
  for (let i = 0; i < 200; i++) await verifyAccessToken(token, core.accounts.publicKey, Date.now())
  const started = performance.now()
  for (let i = 0; i < verifies; i++) {
    const verdict = await verifyAccessToken(token, core.accounts.publicKey, Date.now())
    if (!verdict.ok) throw new Error('the bench token did not verify')
  }
  return ((performance.now() - started) * 1000) / verifies
}

const result: Record<string, unknown> = {}
let exitCode = 0
const room = await new RoomDouble().start()
// The limits would only measure the bench: one address, thousands of logins.
const core = await startTestCore({
  EDGE_URL: room.url,
  SEARCH_SYNC_INTERVAL_MS: '3600000',
  SIM_PAYMENT_FAILURE_RATE: String(num('decline-rate')),
  LOGIN_MAX_PER_ADDRESS: '100000',
  LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000',
  SIM_PAYMENT_LATENCY_MS: '20',
  LOG_LEVEL: 'silent',
})
try {
  await importLines(core, FIXTURE)
  const crowd = await checkoutCrowd(core, { shoppers: num('shoppers'), sku: 'AURALIS-STUDIO', stock: num('stock') })
  Object.assign(result, {
    concurrentCheckouts: crowd.concurrentCheckouts,
    stock: crowd.stock,
    confirmed: crowd.confirmed,
    oversold: crowd.oversold,
    reservationsLeft: crowd.reservationsLeft,
    declined: crowd.failed,
    checkoutCalls: crowd.checkoutCalls,
    crowdMs: Math.round(crowd.ms),
  })
  say(
    `crowd: ${crowd.concurrentCheckouts} checkouts of ${crowd.stock} units: ${crowd.confirmed} confirmed, ` +
      `${crowd.failed} declined, ${crowd.oversold} oversold, ${crowd.reservationsLeft} reservations left ` +
      `(${Math.round(crowd.ms)} ms)`,
  )
  const limit = await accountLimitBreaches(core, num('accounts'))
  result.accountLimitBreaches = limit
  say(`account limit: ${limit} units above the per-shopper limit over ${num('accounts')} accounts x 3 sessions`)
  const orders = await cartOrders(core, num('orders'))
  result.cartOrdersPerSec = round(orders.perSec)
  result.cartOrdersConfirmed = orders.confirmed
  say(
    `cart orders: ${orders.confirmed} two-line orders confirmed, ${round(orders.perSec)}/s (some declined at the rate)`,
  )
  result.loginP95Ms = round(await loginP95(core, num('logins')))
  say(`login: p95 ${result.loginP95Ms} ms (scrypt N=2^${core.config.SCRYPT_LOG_N}, r=8, p=1)`)
  result.edgeJwtVerifyUs = round(await jwtVerifyUs(core, num('verifies')))
  say(`JWT verify (ES256, Web Crypto): ${result.edgeJwtVerifyUs} us each`)
} catch (error) {
  exitCode = 1
  console.error(error)
} finally {
  await core.destroy().catch(() => undefined)
  await room.close()
}
console.log(JSON.stringify(result))
process.exit(exitCode)
