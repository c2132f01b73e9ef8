import { createHash, randomBytes } from 'node:crypto'
import {
  ACCESS_TOKEN_ISSUER,
  publicKeyOf,
  signAccessToken,
  verifyAccessToken,
  type AccessClaims,
  type AccountView,
  type AuthResponse,
  type RegisterRequest,
  type Role,
} from '../../contracts/index.ts'
import { ApiError } from '../errors/api-error.ts'
import { AccountStore, viewOf, type AccountRow } from './account-store.ts'
import type { LoginLimiter, LimitVerdict } from './login-limiter.ts'
import type { PasswordHasher } from './passwords.ts'

export interface AccountsOptions {
  store: AccountStore
  hasher: PasswordHasher
  limiter: LoginLimiter
  /** Private P-256 JWK (JSON) that signs access tokens. */
  accessTokenKey: string
  accessTokenTtlSeconds: number
  refreshTokenTtlSeconds: number
  now?: () => number
}

const hashOf = (refreshToken: string) => createHash('sha256').update(refreshToken).digest()
const newRefreshToken = () => `fgr1.${randomBytes(32).toString('base64url')}`

/** One answer for an unknown email and a wrong password: which emails have accounts is nobody's business. */
const BAD_CREDENTIALS = () => new ApiError('invalid_credentials', 'email or password is wrong')

function limited(verdict: Exclude<LimitVerdict, { ok: true }>): ApiError {
  const what = verdict.scope === 'address' ? 'from this address' : 'for this account'
  return new ApiError(
    'rate_limited',
    `too many login attempts ${what}; retry in ${verdict.retryAfterSeconds} s`,
    undefined,
    {
      'retry-after': String(verdict.retryAfterSeconds),
    },
  )
}

/**
 * Accounts, logins and their tokens: a short-lived ES256 access token (verified anywhere with the public key)
 * and an opaque refresh token, stored hashed, rotated on every use.
 */
export class Accounts {
  readonly store: AccountStore
  /** The public half of the signing key (JWK JSON), for verifiers. */
  readonly publicKey: string
  private readonly now: () => number

  constructor(private readonly options: AccountsOptions) {
    this.store = options.store
    this.publicKey = publicKeyOf(options.accessTokenKey)
    this.now = options.now ?? Date.now
  }

  private async issue(account: AccountRow, familyId: string, refreshToken: string): Promise<AuthResponse> {
    const iat = Math.floor(this.now() / 1000)
    const claims: AccessClaims = {
      iss: ACCESS_TOKEN_ISSUER,
      sub: account.id,
      role: account.role,
      sid: familyId,
      ...(account.verified_at ? { vat: Math.floor(account.verified_at.getTime() / 1000) } : {}),
      iat,
      exp: iat + this.options.accessTokenTtlSeconds,
    }
    return {
      account: viewOf(account),
      accessToken: await signAccessToken(claims, this.options.accessTokenKey),
      expiresIn: this.options.accessTokenTtlSeconds,
      refreshToken,
    }
  }

  private refreshExpiry(): Date {
    return new Date(this.now() + this.options.refreshTokenTtlSeconds * 1000)
  }

  private async open(account: AccountRow): Promise<AuthResponse> {
    const refreshToken = newRefreshToken()
    const familyId = await this.store.openFamily(account.id, hashOf(refreshToken), this.refreshExpiry())
    return this.issue(account, familyId, refreshToken)
  }

  async register(request: RegisterRequest, address: string): Promise<AuthResponse> {
    const verdict = await this.options.limiter.attempt(address)
    if (!verdict.ok) throw limited(verdict)
    const account = await this.store.create(
      request.email,
      await this.options.hasher.hash(request.password),
      request.name ?? null,
    )
    if (!account) throw new ApiError('email_taken', 'an account with this email exists; log in instead', 'email')
    return this.open(account)
  }

  /**
   * Checks the password against the account's hash, or against a dummy hash when there is no account, so both
   * failures cost the same scrypt run and give the same answer.
   */
  async login(email: string, password: string, address: string): Promise<AuthResponse> {
    const verdict = await this.options.limiter.attempt(address, email)
    if (!verdict.ok) throw limited(verdict)
    const account = await this.store.byEmail(email)
    const ok = account
      ? await this.options.hasher.verify(password, account.password_hash)
      : await this.options.hasher.verifyNobody(password)
    if (!account || !ok) {
      await this.options.limiter.failed(email)
      throw BAD_CREDENTIALS()
    }
    await this.options.limiter.succeeded(email)
    return this.open(account)
  }

  async refresh(refreshToken: string): Promise<AuthResponse> {
    const next = newRefreshToken()
    const outcome = await this.store.rotate(
      hashOf(refreshToken),
      hashOf(next),
      this.refreshExpiry(),
      new Date(this.now()),
    )
    if (outcome.kind === 'reused') {
      throw new ApiError(
        'refresh_token_reused',
        'refresh token already used: every session of this login is signed out',
        'refreshToken',
      )
    }
    if (outcome.kind === 'invalid')
      throw new ApiError('refresh_token_invalid', 'refresh token unknown, expired or revoked', 'refreshToken')
    return this.issue(outcome.account, outcome.familyId, next)
  }

  async logout(refreshToken: string): Promise<void> {
    if (!(await this.store.revokeByToken(hashOf(refreshToken), new Date(this.now())))) {
      throw new ApiError('refresh_token_invalid', 'refresh token unknown', 'refreshToken')
    }
  }

  /** The claims of a bearer access token, or a 401 naming what is wrong with it. */
  async authenticate(authorization: string | undefined): Promise<AccessClaims> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1]
    if (!token) {
      throw new ApiError('sign_in_required', 'send an access token: Authorization: Bearer <token>', 'authorization', {
        'www-authenticate': 'Bearer',
      })
    }
    const verified = await verifyAccessToken(token, this.publicKey, this.now())
    if (!verified.ok) {
      const message = {
        access_token_malformed: 'is malformed',
        access_token_bad_signature: 'has a bad signature',
        access_token_expired: 'has expired',
      }
      throw new ApiError(verified.code, `access token ${message[verified.code]}`, 'authorization', {
        'www-authenticate': `Bearer error="invalid_token"`,
      })
    }
    return verified.claims
  }

  async me(accountId: string): Promise<AccountView> {
    const account = await this.store.byId(accountId)
    if (!account) throw new ApiError('account_not_found', 'this account no longer exists')
    return viewOf(account)
  }

  async setRole(accountId: string, role: Role): Promise<AccountView> {
    const account = await this.store.setRole(accountId, role)
    if (!account) throw new ApiError('account_not_found', `no account ${accountId}`, 'accountId')
    return viewOf(account)
  }

  async markVerified(accountId: string): Promise<AccountView> {
    const account = await this.store.verify(accountId, new Date(this.now()))
    if (!account) throw new ApiError('account_not_found', `no account ${accountId}`, 'accountId')
    return viewOf(account)
  }
}
