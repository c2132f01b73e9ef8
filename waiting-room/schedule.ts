/**
 * The room's alarm: one, ~every TICK_MS, while there is timed work — shoppers waiting for an available token,
 * grants outstanding, or a starved shard looking to its siblings. An idle room (or one waiting only on core's
 * outcomes) gets no alarm.
 */
import { GRANT_GRACE_MS } from './grant-expiry.ts'
import { starved } from './lending.ts'
import type { RoomStore } from './store.ts'

/** How often the alarm ticks while someone is waiting or a grant is outstanding. */
export const TICK_MS = 1_000

/** `replace`: called from inside `alarm()`, whose own alarm is spent: always set the next one. */
export async function scheduleAlarm(store: RoomStore, now: number, { replace = false } = {}): Promise<void> {
  const config = store.config()
  if (!config) return
  const counts = store.tokenCounts()
  let next: number | null = null
  if (counts.granted > 0) {
    const earliest = store.one<{ exp: number | null }>(
      `SELECT MIN(grant_exp) AS exp FROM tokens WHERE state = 'granted'`,
    ).exp
    next = Math.max(now + TICK_MS, (earliest ?? now) + GRANT_GRACE_MS)
  }
  if (config.mode === 'open' && counts.available > 0 && store.anyoneWaiting()) {
    const admitAt = now < config.startsAt ? config.startsAt : now + TICK_MS
    next = next === null ? admitAt : Math.min(next, admitAt)
  }
  if (starved(store, config, now)) next = next === null ? now + TICK_MS : Math.min(next, now + TICK_MS)
  if (next === null) return
  const current = replace ? null : await store.storage.getAlarm()
  if (current === null || current > next) await store.storage.setAlarm(next)
}
