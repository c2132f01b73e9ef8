import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ACCESS_TOKEN_ISSUER, signAccessToken, signEdgeReceipt, verifyAccessToken } from '../../contracts/index.ts'
import { OTHER_ACCESS_TOKEN_KEY } from '../../test/support/access-keys.ts'
import { startTestCore, type TestCore } from '../../test/support/core.ts'
import { testRedis, uniqueName } from '../../test/support/services.ts'
import { call, expectError } from '../catalog/fixtures.ts'
import { LoginLimiter } from './login-limiter.ts'
import { PasswordHasher } from './passwords.ts'
import { accountSnapshot, bearer, signUp } from './fixtures.ts'

const PASSWORD = 'correct horse battery'

let core: TestCore

beforeAll(async () => {
  core = await startTestCore({ SCRYPT_LOG_N: '12', LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' })
})
afterAll(async () => {
  await core?.destroy()
})

const email = () => `${uniqueName('shopper')}@example.com`
const address = { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' }

describe('when a shopper registers', () => {
  it('should normalise the email, answer tokens, and keep one account per mailbox', async () => {
    const mailbox = email()
    const answer = await call(core, 'POST', '/v1/auth/register', {
      email: `  ${mailbox.toUpperCase()} `,
      password: PASSWORD,
    })

    expect(answer.status).toBe(201)
    expect(answer.json.account).toMatchObject({ email: mailbox, role: 'customer', verifiedAt: null })
    expect(answer.json.refreshToken).toMatch(/^fgr1\./)
    const verified = await verifyAccessToken(answer.json.accessToken, core.accounts.publicKey, Date.now())
    expect(verified).toMatchObject({ ok: true, claims: { sub: answer.json.account.id, role: 'customer' } })
    if (verified.ok) expect(verified.claims.exp - verified.claims.iat).toBe(600)
    expectError(
      await call(core, 'POST', '/v1/auth/register', { email: mailbox, password: PASSWORD }),
      409,
      'email_taken',
      'email',
    )
  })

  it('should store the password as an scrypt hash that verifies, never the password', async () => {
    const auth = await signUp(core, email())
    const { rows } = await core.db.query('SELECT password_hash FROM accounts WHERE id = $1', [auth.account.id])

    expect(rows[0].password_hash).toMatch(/^scrypt\$12\$8\$1\$[\w-]{22}\$[\w-]{43}$/)
    expect(rows[0].password_hash).not.toContain(PASSWORD)
    expect(await new PasswordHasher(12).verify(PASSWORD, rows[0].password_hash)).toBe(true)
    expect(await new PasswordHasher(12).verify('wrong password', rows[0].password_hash)).toBe(false)
  })
})

describe('when a shopper logs in', () => {
  it('should answer the same for an unknown email and a wrong password', async () => {
    const mailbox = email()
    await signUp(core, mailbox)
    const wrong = await call(core, 'POST', '/v1/auth/login', { email: mailbox, password: 'not the password' })
    const unknown = await call(core, 'POST', '/v1/auth/login', { email: email(), password: 'not the password' })

    expectError(wrong, 401, 'invalid_credentials')
    expect(unknown.status).toBe(wrong.status)
    expect(unknown.json).toEqual(wrong.json)
  })

  it('should run one scrypt of the same cost for an unknown email as for a wrong password', async () => {
    const mailbox = email()
    await signUp(core, mailbox)
    const verify = vi.spyOn(PasswordHasher.prototype, 'verify')
    try {
      await call(core, 'POST', '/v1/auth/login', { email: mailbox, password: 'not the password' })
      await call(core, 'POST', '/v1/auth/login', { email: email(), password: 'not the password' })

      expect(verify).toHaveBeenCalledTimes(2)
      const costs = verify.mock.calls.map(([, stored]) => stored.split('$').slice(0, 4).join('$'))
      expect(costs).toEqual(['scrypt$12$8$1', 'scrypt$12$8$1'])
    } finally {
      verify.mockRestore()
    }
  })

  it('should log in with the email typed differently and answer a working access token', async () => {
    const mailbox = email()
    await signUp(core, mailbox)
    const login = await call(core, 'POST', '/v1/auth/login', { email: ` ${mailbox.toUpperCase()}`, password: PASSWORD })

    expect(login.status).toBe(200)
    const me = await call(core, 'GET', '/v1/me', undefined, bearer(login.json))
    expect(me.status).toBe(200)
    expect(me.json).toMatchObject({ id: login.json.account.id, email: mailbox })
  })

  it('should refuse an account after 3 failures, even with the right password, with Retry-After', async () => {
    const mailbox = email()
    await signUp(core, mailbox)
    for (let i = 0; i < 3; i++) {
      expectError(
        await call(core, 'POST', '/v1/auth/login', { email: mailbox, password: 'nope nope nope' }),
        401,
        'invalid_credentials',
      )
    }
    const locked = await call(core, 'POST', '/v1/auth/login', { email: mailbox, password: PASSWORD })

    expectError(locked, 429, 'rate_limited')
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
  })
})

describe('when the login limiter counts a client address', () => {
  it('should refuse the address past its limit and leave other addresses alone', async () => {
    const redis = testRedis()
    const limiter = new LoginLimiter(redis, uniqueName('fgt'), {
      maxFailuresPerAccount: 100,
      maxPerAddress: 5,
      windowSeconds: 60,
    })
    try {
      for (let i = 0; i < 5; i++)
        expect(await limiter.attempt('203.0.113.9', `a${i}@example.com`)).toEqual({ ok: true })
      expect(await limiter.attempt('203.0.113.9', 'b@example.com')).toMatchObject({ ok: false, scope: 'address' })
      expect(await limiter.attempt('198.51.100.1', 'b@example.com')).toEqual({ ok: true })
    } finally {
      redis.disconnect()
    }
  })
})

describe('when the edge vouches for the client address', () => {
  const limiterKey = (value: string) =>
    `${core.prefix}:login:address:${createHash('sha256').update(value).digest('base64url').slice(0, 22)}`

  it("should count a login against the edge's hash of the address only when the receipt binds it", async () => {
    const client = 'c'.repeat(21) + String(Date.now() % 10)
    const login = async (receiptKey: string) =>
      call(
        core,
        'POST',
        '/v1/auth/login',
        { email: email(), password: 'whatever whatever' },
        {
          'x-floodgate-client-key': client,
          'x-floodgate-edge-receipt': await signEdgeReceipt(
            { at: Date.now(), req: 'POST /v1/auth/login', sub: client, idk: '' },
            receiptKey,
          ),
        },
      )
    const unknownBefore = Number(await core.redis.get(limiterKey('unknown')))

    expect((await login(core.config.CORE_INTERNAL_TOKEN)).status).toBe(401)
    expect(await core.redis.get(limiterKey(`edge:${client}`))).toBe('1')
    // A receipt nobody but the edge could sign: not the edge, so core's shopper API does not answer at all.
    const forged = await login('not-the-internal-token-0123456789')
    expect(forged.status).toBe(401)
    expect(forged.json.error).toMatchObject({ code: 'unauthorized', field: 'x-floodgate-edge-receipt' })
    expect(await core.redis.get(limiterKey(`edge:${client}`))).toBe('1')
    expect(Number(await core.redis.get(limiterKey('unknown')))).toBe(unknownBefore)
  })
})

describe('when a refresh token is used', () => {
  it('should rotate it, and revoke the whole family when a rotated token comes back', async () => {
    const first = await signUp(core, email())
    const second = await call(core, 'POST', '/v1/auth/refresh', { refreshToken: first.refreshToken })
    expect(second.status).toBe(200)
    expect(second.json.refreshToken).not.toBe(first.refreshToken)
    const third = await call(core, 'POST', '/v1/auth/refresh', { refreshToken: second.json.refreshToken })
    expect(third.status).toBe(200)

    expectError(
      await call(core, 'POST', '/v1/auth/refresh', { refreshToken: first.refreshToken }),
      401,
      'refresh_token_reused',
      'refreshToken',
    )
    // The thief's (or the owner's) newest token died with the family.
    expectError(
      await call(core, 'POST', '/v1/auth/refresh', { refreshToken: third.json.refreshToken }),
      401,
      'refresh_token_invalid',
    )
  })

  it('should give one rotation and one refusal to two refreshes racing with one token', async () => {
    const auth = await signUp(core, email())
    const answers = await Promise.all(
      [1, 2].map(() => call(core, 'POST', '/v1/auth/refresh', { refreshToken: auth.refreshToken })),
    )

    expect(answers.map((a) => a.status).sort()).toEqual([200, 401])
  })

  it('should refuse it after logout, and refuse a second logout', async () => {
    const auth = await signUp(core, email())
    const refreshed = await call(core, 'POST', '/v1/auth/refresh', { refreshToken: auth.refreshToken })
    const out = await call(core, 'POST', '/v1/auth/logout', { refreshToken: refreshed.json.refreshToken })

    expect(out.status).toBe(204)
    expectError(
      await call(core, 'POST', '/v1/auth/refresh', { refreshToken: refreshed.json.refreshToken }),
      401,
      'refresh_token_invalid',
    )
    const unknown = `fgr1.${'A'.repeat(43)}`
    expectError(await call(core, 'POST', '/v1/auth/logout', { refreshToken: unknown }), 401, 'refresh_token_invalid')
  })
})

describe('when an access token is presented', () => {
  const claimsFor = (sub: string, nowS: number) => ({
    iss: ACCESS_TOKEN_ISSUER,
    sub,
    role: 'customer' as const,
    sid: 'fam_x',
    iat: nowS,
    exp: nowS + 600,
  })

  it('should refuse a missing, forged, expired or malformed token with a 401 naming authorization', async () => {
    const auth = await signUp(core, email())
    const nowS = Math.floor(Date.now() / 1000)
    const forged = await signAccessToken(claimsFor(auth.account.id, nowS), OTHER_ACCESS_TOKEN_KEY)
    const expired = await signAccessToken(
      { ...claimsFor(auth.account.id, nowS - 1200), exp: nowS - 600 },
      core.config.ACCESS_TOKEN_KEY,
    )
    const [head, , sig] = auth.accessToken.split('.')
    const raisedClaims = { ...claimsFor(auth.account.id, nowS), role: 'operator' }
    const raised = `${head}.${Buffer.from(JSON.stringify(raisedClaims)).toString('base64url')}.${sig}`

    expectError(await call(core, 'GET', '/v1/me'), 401, 'sign_in_required', 'authorization')
    expectError(
      await call(core, 'GET', '/v1/me', undefined, { authorization: `Bearer ${forged}` }),
      401,
      'access_token_bad_signature',
      'authorization',
    )
    expectError(
      await call(core, 'GET', '/v1/me', undefined, { authorization: `Bearer ${raised}` }),
      401,
      'access_token_bad_signature',
    )
    expectError(
      await call(core, 'GET', '/v1/me', undefined, { authorization: `Bearer ${expired}` }),
      401,
      'access_token_expired',
    )
    expectError(
      await call(core, 'GET', '/v1/me', undefined, { authorization: 'Bearer a.b.c' }),
      401,
      'access_token_malformed',
    )
  })

  it("should never show one account another account's addresses", async () => {
    const ada = await signUp(core, email())
    const bob = await signUp(core, email())
    const created = await call(core, 'POST', '/v1/me/addresses', address, bearer(ada))
    const before = await accountSnapshot(core.db)

    expectError(
      await call(core, 'GET', `/v1/me/addresses/${created.json.id}`, undefined, bearer(bob)),
      404,
      'address_not_found',
    )
    expectError(
      await call(core, 'PUT', `/v1/me/addresses/${created.json.id}`, address, bearer(bob)),
      404,
      'address_not_found',
    )
    expectError(
      await call(core, 'DELETE', `/v1/me/addresses/${created.json.id}`, undefined, bearer(bob)),
      404,
      'address_not_found',
    )
    expect((await call(core, 'GET', '/v1/me/addresses', undefined, bearer(bob))).json.addresses).toEqual([])
    expect(await accountSnapshot(core.db)).toEqual(before)
  })
})

describe('when a signed-in shopper keeps addresses', () => {
  it('should create, list, replace and delete them, with one default at most', async () => {
    const auth = await signUp(core, email())
    const home = await call(
      core,
      'POST',
      '/v1/me/addresses',
      { ...address, label: 'Home', isDefault: true },
      bearer(auth),
    )
    const work = await call(
      core,
      'POST',
      '/v1/me/addresses',
      { ...address, label: 'Work', isDefault: true },
      bearer(auth),
    )
    expect(home.status).toBe(201)
    expect(home.json).toMatchObject({ label: 'Home', country: 'GB', line2: null, isDefault: true })

    const list = await call(core, 'GET', '/v1/me/addresses', undefined, bearer(auth))
    expect(list.json.addresses.map((a: { label: string; isDefault: boolean }) => [a.label, a.isDefault])).toEqual([
      ['Home', false],
      ['Work', true],
    ])
    const replaced = await call(
      core,
      'PUT',
      `/v1/me/addresses/${home.json.id}`,
      { ...address, label: 'Old home', city: 'Bath' },
      bearer(auth),
    )
    expect(replaced.json).toMatchObject({ id: home.json.id, label: 'Old home', city: 'Bath' })
    expect((await call(core, 'DELETE', `/v1/me/addresses/${work.json.id}`, undefined, bearer(auth))).status).toBe(204)
    expect((await call(core, 'GET', '/v1/me/addresses', undefined, bearer(auth))).json.addresses).toHaveLength(1)
  })
})

describe('when a request is malformed', () => {
  it('should refuse it with a 4xx naming the field and change nothing', async () => {
    const auth = await signUp(core, email())
    const created = await call(core, 'POST', '/v1/me/addresses', address, bearer(auth))
    const before = await accountSnapshot(core.db)
    const cases: Array<[string, string, unknown, number, string, string | undefined]> = [
      ['POST', '/v1/auth/register', { email: 'not-an-email', password: PASSWORD }, 400, 'invalid_body', 'email'],
      ['POST', '/v1/auth/register', { email: email(), password: 'short' }, 400, 'invalid_body', 'password'],
      [
        'POST',
        '/v1/auth/register',
        { email: email(), password: PASSWORD, role: 'operator' },
        400,
        'invalid_body',
        undefined,
      ],
      ['POST', '/v1/auth/register', { email: 42, password: PASSWORD }, 400, 'invalid_body', 'email'],
      ['POST', '/v1/auth/register', '{"email":', 400, 'invalid_json', undefined],
      ['POST', '/v1/auth/login', { email: email(), password: 7 }, 400, 'invalid_body', 'password'],
      [
        'POST',
        '/v1/auth/login',
        { email: email(), password: PASSWORD, remember: true },
        400,
        'invalid_body',
        undefined,
      ],
      [
        'POST',
        '/v1/auth/login',
        { email: email(), password: PASSWORD, cartId: 'cart_1' },
        400,
        'invalid_body',
        'cartId',
      ],
      ['POST', '/v1/auth/refresh', { refreshToken: 'abc' }, 400, 'invalid_body', 'refreshToken'],
      ['POST', '/v1/auth/refresh', {}, 400, 'invalid_body', 'refreshToken'],
      ['POST', '/v1/auth/logout', { refreshToken: auth.refreshToken, all: true }, 400, 'invalid_body', undefined],
      ['POST', '/v1/me/addresses', { ...address, country: 'Germany' }, 400, 'invalid_body', 'country'],
      ['POST', '/v1/me/addresses', { ...address, zip: '1' }, 400, 'invalid_body', undefined],
      ['POST', '/v1/me/addresses', { ...address, isDefault: 'yes' }, 400, 'invalid_body', 'isDefault'],
      ['PUT', `/v1/me/addresses/${created.json.id}`, { ...address, name: '' }, 400, 'invalid_body', 'name'],
      ['PUT', '/v1/me/addresses/42', address, 400, 'invalid_path', 'addressId'],
    ]
    for (const [method, path, body, status, code, field] of cases) {
      const answer = await call(core, method, path, body, bearer(auth))
      expectError(answer, status, code, field)
      if (code === 'invalid_body' && field === undefined)
        expect(answer.json.error.message).toMatch(/unrecognized|unknown/i)
    }
    const asText = await call(core, 'POST', '/v1/auth/login', 'email=a', { 'content-type': 'text/plain' })
    expectError(asText, 415, 'unsupported_media_type', 'content-type')
    expect(await accountSnapshot(core.db)).toEqual(before)
  })
})

describe('when operators manage accounts', () => {
  it('should let the service token or an operator set roles and verify, and refuse a customer', async () => {
    const staff = await signUp(core, email())
    const customer = await signUp(core, email())
    const service = { authorization: `Bearer ${core.config.CORE_ADMIN_TOKEN}` }

    expect(
      (await call(core, 'PUT', `/admin/accounts/${staff.account.id}/role`, { role: 'operator' }, service)).json.role,
    ).toBe('operator')
    const asOperator = await call(core, 'POST', '/v1/auth/login', { email: staff.account.email, password: PASSWORD })
    const verified = await call(
      core,
      'POST',
      `/admin/accounts/${customer.account.id}/verify`,
      undefined,
      bearer(asOperator.json),
    )
    expect(verified.status).toBe(200)
    expect(verified.json.verifiedAt).not.toBeNull()
    // Every operator API: the sales', the catalog's and the search's.
    expect((await call(core, 'GET', '/admin/sales', undefined, bearer(asOperator.json))).status).toBe(200)
    expect((await call(core, 'GET', '/admin/search/status', undefined, bearer(asOperator.json))).status).toBe(200)
    const missing = await call(core, 'GET', '/admin/catalog/products/nope', undefined, bearer(asOperator.json))
    expect(missing.json.error.code).toBe('product_not_found')
    expectError(await call(core, 'GET', '/admin/catalog/products/x', undefined, bearer(customer)), 403, 'forbidden')

    const before = await accountSnapshot(core.db)
    expectError(
      await call(core, 'PUT', `/admin/accounts/${staff.account.id}/role`, { role: 'support' }, bearer(customer)),
      403,
      'forbidden',
    )
    expectError(
      await call(core, 'PUT', `/admin/accounts/${staff.account.id}/role`, { role: 'admin' }, service),
      400,
      'invalid_body',
      'role',
    )
    expect(await accountSnapshot(core.db)).toEqual(before)
  })
})
