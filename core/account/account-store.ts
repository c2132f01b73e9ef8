/** Every read and write of the account tables (accounts, refresh_families, refresh_tokens, account_addresses). */
import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import type { AccountView, Address, AddressBody, Role } from '../../contracts/index.ts'
import { withTransaction } from '../db/transaction.ts'
import { ApiError } from '../errors/api-error.ts'

export interface AccountRow {
  id: string
  email: string
  password_hash: string
  name: string | null
  role: Role
  verified_at: Date | null
  created_at: Date
}

interface AddressRow {
  id: string
  label: string | null
  name: string
  line1: string
  line2: string | null
  city: string
  region: string | null
  postal_code: string
  country: string
  phone: string | null
  is_default: boolean
}

/** What presenting a refresh token found. */
export type RefreshOutcome =
  | { kind: 'rotated'; account: AccountRow; familyId: string }
  | { kind: 'invalid' }
  | { kind: 'reused'; familyId: string }

export const viewOf = (row: AccountRow): AccountView => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  verifiedAt: row.verified_at?.toISOString() ?? null,
  createdAt: row.created_at.toISOString(),
})

const addressOf = (row: AddressRow): Address => ({
  id: row.id,
  label: row.label,
  name: row.name,
  line1: row.line1,
  line2: row.line2,
  city: row.city,
  region: row.region,
  postalCode: row.postal_code,
  country: row.country,
  phone: row.phone,
  isDefault: row.is_default,
})

const newId = (prefix: string, bytes: number) => `${prefix}_${randomBytes(bytes).toString('hex')}`
const ADDRESS_COLUMNS = 'id, label, name, line1, line2, city, region, postal_code, country, phone, is_default'
/** An account keeps at most this many addresses. */
export const MAX_ADDRESSES = 20

export class AccountStore {
  constructor(private readonly db: pg.Pool) {}

  /** The new account, or null when the email is taken. */
  async create(email: string, passwordHash: string, name: string | null): Promise<AccountRow | null> {
    const { rows } = await this.db.query<AccountRow>(
      `INSERT INTO accounts (id, email, password_hash, name) VALUES ($1, $2, $3, $4)
       ON CONFLICT (email) DO NOTHING RETURNING *`,
      [newId('acc', 16), email, passwordHash, name],
    )
    return rows[0] ?? null
  }

  async byEmail(email: string): Promise<AccountRow | null> {
    return (await this.db.query<AccountRow>('SELECT * FROM accounts WHERE email = $1', [email])).rows[0] ?? null
  }

  async byId(id: string): Promise<AccountRow | null> {
    return (await this.db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id])).rows[0] ?? null
  }

  async setRole(id: string, role: Role): Promise<AccountRow | null> {
    const { rows } = await this.db.query<AccountRow>(
      'UPDATE accounts SET role = $2, updated_at = now() WHERE id = $1 RETURNING *',
      [id, role],
    )
    return rows[0] ?? null
  }

  /** Marks the email verified (once: a second call keeps the first time). */
  async verify(id: string, at: Date): Promise<AccountRow | null> {
    const { rows } = await this.db.query<AccountRow>(
      `UPDATE accounts SET verified_at = COALESCE(verified_at, $2), updated_at = now() WHERE id = $1 RETURNING *`,
      [id, at],
    )
    return rows[0] ?? null
  }

  /** A new login: a family and its first refresh token. */
  async openFamily(accountId: string, tokenHash: Buffer, expiresAt: Date): Promise<string> {
    const familyId = newId('fam', 12)
    await withTransaction(this.db, async (client) => {
      await client.query('INSERT INTO refresh_families (id, account_id) VALUES ($1, $2)', [familyId, accountId])
      await client.query('INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)', [
        tokenHash,
        familyId,
        expiresAt,
      ])
    })
    return familyId
  }

  /**
   * Trades a refresh token for the next one of its family, in one transaction with the token row locked: two
   * refreshes racing with one token give one rotation and one reuse. A rotated token presented again revokes
   * the family (committed, whatever the caller does next).
   */
  async rotate(tokenHash: Buffer, nextHash: Buffer, expiresAt: Date, now: Date): Promise<RefreshOutcome> {
    return withTransaction(this.db, async (client) => {
      const { rows } = await client.query<{ family_id: string; status: string; expires_at: Date; revoked: boolean }>(
        `SELECT t.family_id, t.status, t.expires_at, f.revoked_at IS NOT NULL AS revoked
           FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
          WHERE t.token_hash = $1 FOR UPDATE OF t, f`,
        [tokenHash],
      )
      const token = rows[0]
      if (!token || token.revoked || token.expires_at <= now) return { kind: 'invalid' }
      if (token.status !== 'active') {
        await client.query(
          `UPDATE refresh_families SET revoked_at = $2, revoked_why = 'reuse' WHERE id = $1 AND revoked_at IS NULL`,
          [token.family_id, now],
        )
        return { kind: 'reused', familyId: token.family_id }
      }
      await client.query(`UPDATE refresh_tokens SET status = 'rotated', rotated_at = $2 WHERE token_hash = $1`, [
        tokenHash,
        now,
      ])
      await client.query('INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)', [
        nextHash,
        token.family_id,
        expiresAt,
      ])
      const account = await client.query<AccountRow>(
        'SELECT a.* FROM accounts a JOIN refresh_families f ON f.account_id = a.id WHERE f.id = $1',
        [token.family_id],
      )
      return { kind: 'rotated', account: account.rows[0]!, familyId: token.family_id }
    })
  }

  /** Logout: the token's family is revoked (every token of that login). False when the token is unknown. */
  async revokeByToken(tokenHash: Buffer, now: Date): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE refresh_families f
          SET revoked_at = COALESCE(f.revoked_at, $2), revoked_why = COALESCE(f.revoked_why, 'logout')
         FROM refresh_tokens t WHERE t.token_hash = $1 AND t.family_id = f.id`,
      [tokenHash, now],
    )
    return (rowCount ?? 0) > 0
  }

  async familyRevoked(familyId: string): Promise<boolean> {
    const { rows } = await this.db.query<{ revoked: boolean }>(
      'SELECT revoked_at IS NOT NULL AS revoked FROM refresh_families WHERE id = $1',
      [familyId],
    )
    return rows[0]?.revoked ?? true
  }

  // ---------------------------------------------------------------- addresses

  async addresses(accountId: string): Promise<Address[]> {
    const { rows } = await this.db.query<AddressRow>(
      `SELECT ${ADDRESS_COLUMNS} FROM account_addresses WHERE account_id = $1 ORDER BY created_at, id`,
      [accountId],
    )
    return rows.map(addressOf)
  }

  async address(accountId: string, id: string): Promise<Address | null> {
    const { rows } = await this.db.query<AddressRow>(
      `SELECT ${ADDRESS_COLUMNS} FROM account_addresses WHERE account_id = $1 AND id = $2`,
      [accountId, id],
    )
    return rows[0] ? addressOf(rows[0]) : null
  }

  /**
   * Creates (id null) or replaces an address; the account's row is locked so defaults and the cap hold. An id
   * the account does not have: 404, and nothing changed.
   */
  async putAddress(accountId: string, id: string | null, body: AddressBody): Promise<Address> {
    return withTransaction(this.db, async (client) => {
      await client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId])
      if (id === null) {
        const { rows } = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM account_addresses WHERE account_id = $1',
          [accountId],
        )
        if (rows[0]!.n >= MAX_ADDRESSES) {
          throw new ApiError('invalid_body', `an account keeps at most ${MAX_ADDRESSES} addresses`)
        }
      }
      if (body.isDefault) {
        await client.query('UPDATE account_addresses SET is_default = false WHERE account_id = $1 AND is_default', [
          accountId,
        ])
      }
      const values = [
        body.label ?? null,
        body.name,
        body.line1,
        body.line2 ?? null,
        body.city,
        body.region ?? null,
        body.postalCode,
        body.country,
        body.phone ?? null,
        body.isDefault ?? false,
      ]
      const { rows } =
        id === null
          ? await client.query<AddressRow>(
              `INSERT INTO account_addresses (id, account_id, label, name, line1, line2, city, region, postal_code,
                 country, phone, is_default) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               RETURNING ${ADDRESS_COLUMNS}`,
              [newId('adr', 12), accountId, ...values],
            )
          : await client.query<AddressRow>(
              `UPDATE account_addresses SET label = $3, name = $4, line1 = $5, line2 = $6, city = $7, region = $8,
                 postal_code = $9, country = $10, phone = $11, is_default = $12, updated_at = now()
               WHERE id = $1 AND account_id = $2 RETURNING ${ADDRESS_COLUMNS}`,
              [id, accountId, ...values],
            )
      if (!rows[0]) throw new ApiError('address_not_found', `no address ${id} on this account`, 'addressId')
      return addressOf(rows[0])
    })
  }

  async deleteAddress(accountId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM account_addresses WHERE account_id = $1 AND id = $2', [
      accountId,
      id,
    ])
    return (rowCount ?? 0) > 0
  }
}
