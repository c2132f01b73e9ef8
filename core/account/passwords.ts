import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/** scrypt's block size and parallelism: the RFC 7914 / OWASP values; only N (the cost) is configured. */
const R = 8
const P = 1
const KEY_BYTES = 32
const SALT_BYTES = 16

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r + 1024 * 1024 }
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

/**
 * Password hashes with scrypt (memory-hard: 128·N·r bytes per hash, 32 MiB at N = 2^15, r = 8), run on libuv's
 * thread pool. Format `scrypt$<log2 N>$<r>$<p>$<salt>$<key>` (base64url), so the cost can rise later and old
 * hashes still verify.
 */
export class PasswordHasher {
  /** A hash of nothing anyone knows, made at start so that the first unknown email costs no more than later ones. */
  private readonly dummy: Promise<string>

  constructor(private readonly logN: number) {
    this.dummy = this.hash(randomBytes(16).toString('hex'))
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES)
    const key = await derive(password, salt, this.logN, R, P)
    return ['scrypt', this.logN, R, P, salt.toString('base64url'), key.toString('base64url')].join('$')
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const [scheme, logN, r, p, salt, key] = stored.split('$')
    if (scheme !== 'scrypt' || !salt || !key) return false
    const expected = Buffer.from(key, 'base64url')
    const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(logN), Number(r), Number(p))
    return actual.length === expected.length && timingSafeEqual(actual, expected)
  }

  /** Spends what a real verification would, for an email with no account: both answers take as long. */
  async verifyNobody(password: string): Promise<false> {
    await this.verify(password, await this.dummy)
    return false
  }
}
