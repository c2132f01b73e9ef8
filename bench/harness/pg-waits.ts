/**
 * What Postgres backends were waiting on during a phase: samples pg_stat_activity every `everyMs` and
 * counts (wait_event_type, wait_event) of active backends. `Lock: transactionid/tuple` = row-lock
 * queues; `IO: WALSync` / `LWLock: WALWrite` = commits waiting for the disk; `CPU` = running.
 */
import type pg from 'pg'

export class PgWaitSampler {
  private timer?: NodeJS.Timeout
  private samples = 0
  private readonly counts = new Map<string, number>()

  /** `applicationName`: only backends of this run (other people's tests share the server). */
  constructor(
    private readonly db: pg.Client,
    private readonly applicationName: string,
  ) {}

  start(everyMs = 100): this {
    let busy = false
    this.timer = setInterval(() => {
      if (busy) return
      busy = true
      this.db
        .query<{ w: string; n: number }>(
          // The statement is named for lock waits: it says which row everyone queues on.
          `SELECT coalesce(wait_event_type || ': ' || wait_event, 'CPU')
                    || CASE WHEN wait_event_type = 'Lock' THEN ' in "' || left(regexp_replace(query, '\\s+', ' ', 'g'), 48) || '…"' ELSE '' END AS w,
                  count(*)::int AS n
             FROM pg_stat_activity
            WHERE state = 'active' AND application_name = $1 AND pid <> pg_backend_pid() GROUP BY 1`,
          [this.applicationName],
        )
        .then(({ rows }) => {
          this.samples++
          for (const r of rows) this.counts.set(r.w, (this.counts.get(r.w) ?? 0) + r.n)
        })
        .catch(() => {})
        .finally(() => (busy = false))
    }, everyMs)
    return this
  }

  /** Average number of active backends per wait, largest first. */
  stop(): Array<{ wait: string; backends: number }> {
    clearInterval(this.timer)
    return [...this.counts.entries()]
      .map(([wait, n]) => ({ wait, backends: Math.round((n / Math.max(1, this.samples)) * 10) / 10 }))
      .sort((a, b) => b.backends - a.backends)
  }
}

export function formatWaits(waits: Array<{ wait: string; backends: number }>): string {
  return (
    waits
      .slice(0, 6)
      .map((w) => `${w.wait} ${w.backends}`)
      .join(', ') || 'none'
  )
}
