/**
 * Accounts: request and response bodies of /v1/auth/* and /v1/me (core), and the shopper id a signed-in
 * shopper has in the waiting room and in core's per-shopper limits.
 */
import { z } from 'zod'
import { base64urlEncode, tokenCrypto } from './token.ts'

export const ACCOUNT_ID_PATTERN = /^acc_[a-f0-9]{32}$/
export const ADDRESS_ID_PATTERN = /^adr_[a-f0-9]{24}$/
export const REFRESH_TOKEN_PATTERN = /^fgr1\.[A-Za-z0-9_-]{43}$/
export const MAX_ACCOUNT_BODY_BYTES = 4 * 1024

export const AccountId = z.string().regex(ACCOUNT_ID_PATTERN, 'must look like acc_ followed by 32 hex chars')
export const Role = z.enum(['customer', 'operator', 'support'])
export type Role = z.infer<typeof Role>

/** Trimmed and lowercased before it is checked or stored: one account per mailbox however it is typed. */
export const Email = z
  .string()
  .max(254)
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.string().regex(/^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/, 'must be an email address'))
/** Length in characters; 128 caps the KDF's input without truncating real passphrases. */
export const Password = z.string().min(10, 'must be at least 10 characters').max(128)
export const RefreshToken = z.string().regex(REFRESH_TOKEN_PATTERN, 'must be a refresh token (fgr1.…)')

export const RegisterRequest = z
  .object({ email: Email, password: Password, name: z.string().trim().min(1).max(100).optional() })
  .strict()
export type RegisterRequest = z.infer<typeof RegisterRequest>

export const LoginRequest = z
  .object({
    email: Email,
    password: z.string().min(1).max(128),
    /** A guest cart to merge into the account's on success. */
    cartId: z
      .string()
      .regex(/^cart_[a-f0-9]{32}$/, 'must look like cart_ followed by 32 hex chars')
      .optional(),
  })
  .strict()
export type LoginRequest = z.infer<typeof LoginRequest>

export const RefreshRequest = z.object({ refreshToken: RefreshToken }).strict()
export const LogoutRequest = RefreshRequest

export const AccountView = z.object({
  id: AccountId,
  email: z.string(),
  name: z.string().nullable(),
  role: Role,
  verifiedAt: z.string().nullable(),
  createdAt: z.string(),
})
export type AccountView = z.infer<typeof AccountView>

export const AuthResponse = z.object({
  account: AccountView,
  accessToken: z.string(),
  /** Seconds until the access token expires. */
  expiresIn: z.number().int().positive(),
  refreshToken: RefreshToken,
})
export type AuthResponse = z.infer<typeof AuthResponse>

const Country = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code (e.g. "DE")')
const line = (max: number) => z.string().trim().min(1).max(max)

export const AddressBody = z
  .object({
    label: line(40).optional(),
    name: line(100),
    line1: line(200),
    line2: z.string().trim().max(200).optional(),
    city: line(100),
    region: z.string().trim().max(100).optional(),
    postalCode: line(20),
    country: Country,
    phone: z
      .string()
      .regex(/^\+?[0-9 ()-]{5,25}$/, 'must be a phone number')
      .optional(),
    isDefault: z.boolean().optional(),
  })
  .strict()
export type AddressBody = z.infer<typeof AddressBody>

export const Address = AddressBody.required({ isDefault: true }).extend({
  id: z.string().regex(ADDRESS_ID_PATTERN),
  label: z.string().nullable(),
  line2: z.string().nullable(),
  region: z.string().nullable(),
  phone: z.string().nullable(),
})
export type Address = z.infer<typeof Address>

/** Who may join a sale's line: any session (today), signed-in accounts, or accounts verified before the pre-queue. */
export const JoinPolicy = z.enum(['anonymous', 'accounts', 'verified'])
export type JoinPolicy = z.infer<typeof JoinPolicy>

/**
 * The shopper id of a signed-in shopper: a hash of the account id, so every session and device of one account
 * is one shopper (one place in line, one per-shopper limit). Same shape as `shopperOf(session)`, another domain
 * of the hash, so an account's id can never equal a session's.
 */
export async function shopperOfAccount(accountId: string): Promise<string> {
  return base64urlEncode(await tokenCrypto().sha256(`floodgate-account:${accountId}`)).slice(0, 22)
}
