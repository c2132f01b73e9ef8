import type { Context } from 'hono'
import { base64urlEncode, tokenCrypto } from '../contracts/index.ts'

/** The client address as the platform saw it (Workers: `cf-connecting-ip`, which the client cannot set). */
export function clientIp(c: Context): string | undefined {
  return c.req.header('cf-connecting-ip') || undefined
}

/**
 * The network a client address belongs to, for limits that must not be escaped by changing address: an IPv4
 * address is its own network; an IPv6 address counts as its /64 (one subscriber's prefix: a host picks any of
 * its 2^64 addresses at will).
 */
export function networkOf(ip: string): string {
  if (!ip.includes(':')) return ip
  const [head = '', tail = ''] = ip.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  // An IPv4-mapped tail (::ffff:1.2.3.4) takes two groups; only the first four groups matter here anyway.
  const gap = ip.includes('::') ? Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0') : []
  const groups = [...left, ...gap, ...right].slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '') || '0')
  return `${groups.join(':')}::/64`
}

/** The client's network, or undefined when the platform did not say (tests, a direct call). */
export function clientNetwork(c: Context): string | undefined {
  const ip = clientIp(c)
  return ip === undefined ? undefined : networkOf(ip)
}

/** Network hashes get their own key, derived from the edge secret: a plain hash of an IPv4 address is reversible. */
const networkKey = (secret: string) => `floodgate-network:${secret}`

/** A keyed hash of the client's network: the room counts places per network without storing addresses. */
export async function networkHash(secret: string, network: string): Promise<string> {
  return base64urlEncode(await tokenCrypto().hmacSha256(networkKey(secret), network)).slice(0, 22)
}
