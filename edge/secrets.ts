import type { Env } from './env.ts'

/** The edge's secrets: each signs or authenticates something a stranger must not be able to make. */
export const EDGE_SECRETS = ['GRANT_SECRET', 'EDGE_ADMIN_TOKEN', 'CORE_INTERNAL_TOKEN'] as const
/** Shortest secret the edge serves with (32 characters: 192 bits and more from any sane generator). */
export const MIN_SECRET_LENGTH = 32
const DEV_PREFIX = 'dev-only-'
/** The x coordinate of the published dev access-token key (core/config.ts DEV_ACCESS_TOKEN_KEY). */
const DEV_ACCESS_KEY_X = 'nvEFxm1D3iXPiGhflpXzdX64-rKKM625yfupYanRTIw'

/**
 * What is wrong with the edge's secrets, one line per secret; empty when it may serve. A missing or short secret
 * is always wrong; the published dev values are accepted only with `FLOODGATE_DEV=true`, which only
 * `.dev.vars` (never uploaded by `wrangler deploy`) and the local Miniflare harness set.
 */
export function secretProblems(env: Partial<Record<string, unknown>>): string[] {
  const local = env.FLOODGATE_DEV === 'true'
  const problems: string[] = []
  for (const name of EDGE_SECRETS) {
    const value = env[name]
    if (typeof value !== 'string' || value === '') problems.push(`${name} is not set`)
    else if (value.length < MIN_SECRET_LENGTH) problems.push(`${name} is shorter than ${MIN_SECRET_LENGTH} characters`)
    else if (value.startsWith(DEV_PREFIX) && !local) problems.push(`${name} is the published dev value`)
  }
  // Not a secret, but the dev key pair is published: its public half would accept anyone's operator token.
  const publicKey = env.ACCESS_TOKEN_PUBLIC_KEY
  if (typeof publicKey !== 'string' || publicKey === '') problems.push('ACCESS_TOKEN_PUBLIC_KEY is not set')
  else if (publicKey.includes(DEV_ACCESS_KEY_X) && !local)
    problems.push('ACCESS_TOKEN_PUBLIC_KEY is the published dev key')
  return problems
}

const verdicts = new WeakMap<object, string[]>()

/** `secretProblems`, once per env object (an isolate keeps the same one). */
export function checkedSecrets(env: Env): string[] {
  let found = verdicts.get(env)
  if (!found) verdicts.set(env, (found = secretProblems(env as unknown as Record<string, unknown>)))
  return found
}
