/** What the end-to-end tests do as shoppers against a running edge (scripts/local-stack.ts). */
import { expect } from 'vitest'
import { randomId, shopperOf, type RoomStatus } from '../../contracts/index.ts'
import { shopperShard } from '../../waiting-room/sharding.ts'

/** A session whose shopper's place is in `shard` of a room of `shards` shards (by the room's own shard rule). */
export async function sessionInShard(shard: number, shards: number): Promise<string> {
  for (;;) {
    const session = randomId()
    if (shopperShard(await shopperOf(session), shards) === shard) return session
  }
}

/** The room's status for a shopper holding a queue ticket, through the edge; expects 200. */
export async function pollRoom(
  edgeUrl: string,
  saleId: string,
  s: { session: string; ticket: string },
): Promise<RoomStatus> {
  const res = await fetch(`${edgeUrl}/api/sales/${saleId}/status`, {
    headers: { 'x-floodgate-session': s.session, 'x-floodgate-ticket': s.ticket },
  })
  expect(res.status).toBe(200)
  return (await res.json()) as RoomStatus
}

/** The order's status once it is no longer pending (long polls through the edge), or the last one after 30 s. */
export async function orderOutcome(edgeUrl: string, session: string, orderId: string): Promise<string> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const res = await fetch(`${edgeUrl}/api/orders/${orderId}?waitMs=2000`, {
      headers: { 'x-floodgate-session': session },
    })
    const { status } = (await res.json()) as { status: string }
    if (status !== 'pending' || Date.now() > deadline) return status
  }
}

/** A new shopper whose place is in `shard` joins the sale through the edge (expects 200): its session and status. */
export async function joinInShard(
  edgeUrl: string,
  saleId: string,
  shard: number,
  shards: number,
): Promise<{ session: string; status: RoomStatus }> {
  const session = await sessionInShard(shard, shards)
  const res = await fetch(`${edgeUrl}/api/sales/${saleId}/join`, {
    method: 'POST',
    headers: { 'x-floodgate-session': session },
  })
  expect(res.status).toBe(200)
  return { session, status: (await res.json()) as RoomStatus }
}
