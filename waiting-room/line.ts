/**
 * The line: taking a place (or finding one's place again). A shopper whose grant lapsed joins again at the
 * back, unless nothing can come back to anyone (sold out).
 */
import { admit } from './admission.ts'
import { soldOut } from './pool.ts'
import { fail, ok, type RoomResult } from './results.ts'
import type { RoomStore } from './store.ts'

export type NewPlace = {
  shopper: string
  publicId: string
  /** A hash of the client address, for `maxPlacesPerIp`. */
  ip: string | undefined
  /** Joined before the start. */
  pre: boolean
  /** The pre-queue shuffle key in [0, 1); null for a first-come place (ord = 1 + seq). */
  key: number | null
}

/** Takes the place (joining twice is a no-op), then admits whoever the budget allows. Synchronous. */
export function takePlace(store: RoomStore, place: NewPlace, now: number): RoomResult<null> {
  const { shopper, publicId, ip, pre, key } = place
  return store.tx(() => {
    const row = store.queueRow(shopper)
    const requeue = row?.state === 'expired' && !soldOut(store)
    if (!row || requeue) {
      const cap = store.room().max_places_per_ip
      if (ip !== undefined && cap !== null) {
        const held = store.count(`SELECT COUNT(*) AS c FROM queue WHERE ip = ? AND state != 'expired'`, ip)
        if (held >= cap) return fail('place_limit', `this network already holds ${held} places in line (limit ${cap})`)
      }
      if (requeue) store.exec(`DELETE FROM queue WHERE seq = ?`, row.seq)
      store.exec(
        `INSERT INTO queue (shopper, public_id, joined_at, pre, ip) VALUES (?, ?, ?, ?, ?)`,
        shopper,
        publicId,
        now,
        pre ? 1 : 0,
        ip ?? null,
      )
      // FIFO places: 1 + seq (after every pre-queue place, which is < 1 with the shuffle).
      if (key !== null) store.exec(`UPDATE queue SET ord = ? WHERE shopper = ?`, key, shopper)
      else store.exec(`UPDATE queue SET ord = 1 + seq WHERE shopper = ?`, shopper)
      // The public join list keeps every pre-queue place, even after its holder joins again at the back.
      if (pre) {
        store.exec(
          `INSERT INTO prequeue_joins (seq, shopper, public_id, joined_at, key)
           SELECT seq, shopper, public_id, joined_at, ? FROM queue WHERE shopper = ?`,
          key,
          shopper,
        )
      }
    }
    admit(store, now)
    return ok(null)
  })
}
