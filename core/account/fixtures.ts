/** Test helpers of the accounts domain: signing up and in through the API, and a snapshot of its tables. */
import type pg from 'pg'
import type { AuthResponse } from '../../contracts/index.ts'
import { tableDigests } from '../../test/support/state.ts'
import { call } from '../catalog/fixtures.ts'
import type { Core } from '../core.ts'

export const ACCOUNT_TABLES = ['accounts', 'refresh_families', 'refresh_tokens', 'account_addresses'] as const

/** Every row of the account tables, digested: equal before and after a refused request. */
export async function accountSnapshot(
  db: pg.Pool,
  tables: readonly string[] = ACCOUNT_TABLES,
): Promise<Record<string, unknown>> {
  return tableDigests(db, tables, (table) => table)
}

export async function signUp(core: Core, email: string, password = 'correct horse battery'): Promise<AuthResponse> {
  const answer = await call(core, 'POST', '/v1/auth/register', { email, password })
  if (answer.status !== 201) throw new Error(`register ${email}: ${answer.status} ${JSON.stringify(answer.json)}`)
  return answer.json as AuthResponse
}

export const bearer = (auth: { accessToken: string }) => ({ authorization: `Bearer ${auth.accessToken}` })
