import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

export interface LoginLimits {
  maxFailuresPerAccount: number
  maxPerAddress: number
  windowSeconds: number
}

/** Seconds to wait, when a limit is reached. */
export type LimitVerdict = { ok: true } | { ok: false; retryAfterSeconds: number; scope: 'account' | 'address' }

/**
 * Fixed windows in Redis: every login (and registration) attempt counts against the client address, every failed
 * login against the email tried, known or not (so the answer says nothing about which emails exist). Keys hold a
 * hash of the email, never the email. Redis losing them only resets the windows.
 */
export class LoginLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: LoginLimits,
  ) {}

  private key(scope: 'account' | 'address', value: string): string {
    return `${this.prefix}:login:${scope}:${createHash('sha256').update(value).digest('base64url').slice(0, 22)}`
  }

  private async bump(key: string): Promise<{ count: number; ttl: number }> {
    const replies = await this.redis
      .multi()
      .set(key, '0', 'EX', this.limits.windowSeconds, 'NX')
      .incr(key)
      .ttl(key)
      .exec()
    return { count: Number(replies?.[1]?.[1] ?? 0), ttl: Number(replies?.[2]?.[1] ?? this.limits.windowSeconds) }
  }

  /** Counts one attempt from `address`; refuses it when the address or the email is over its limit. */
  async attempt(address: string, email?: string): Promise<LimitVerdict> {
    const byAddress = await this.bump(this.key('address', address))
    if (byAddress.count > this.limits.maxPerAddress) {
      return { ok: false, retryAfterSeconds: Math.max(1, byAddress.ttl), scope: 'address' }
    }
    if (email === undefined) return { ok: true }
    const key = this.key('account', email)
    const [failures, ttl] = await Promise.all([this.redis.get(key), this.redis.ttl(key)])
    if (Number(failures ?? 0) >= this.limits.maxFailuresPerAccount) {
      return { ok: false, retryAfterSeconds: Math.max(1, ttl), scope: 'account' }
    }
    return { ok: true }
  }

  async failed(email: string): Promise<void> {
    await this.bump(this.key('account', email))
  }

  /** A successful login clears the email's failures. */
  async succeeded(email: string): Promise<void> {
    await this.redis.del(this.key('account', email))
  }
}
