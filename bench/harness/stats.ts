/**
 * Latency recording and summaries for the benchmark harness. Pure: no I/O, unit-tested at tiny scale.
 */

/** Growable list of latencies in milliseconds, cheap to append millions of times. */
export class Latencies {
  private values = new Float64Array(1 << 16)
  length = 0

  add(ms: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2)
      bigger.set(this.values)
      this.values = bigger
    }
    this.values[this.length++] = ms
  }

  /** Sorted copy of what was recorded. */
  sorted(): Float64Array {
    return this.values.slice(0, this.length).sort()
  }

  summary(): LatencySummary {
    return summarize(this.sorted())
  }
}

export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/** Nearest-rank percentile of an ascending array (0 when empty). */
export function percentileOf(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export function summarize(sorted: ArrayLike<number>): LatencySummary {
  let total = 0
  for (let i = 0; i < sorted.length; i++) total += sorted[i]!
  return {
    count: sorted.length,
    p50: percentileOf(sorted, 50),
    p90: percentileOf(sorted, 90),
    p99: percentileOf(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : 0,
    mean: sorted.length ? total / sorted.length : 0,
  }
}

/** Rounds for display and JSON: 3 significant-ish digits without noise. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** What prom-client's `Histogram.get()` returns (the parts read here). */
export interface HistogramSnapshot {
  values: Array<{ metricName?: string; labels: Record<string, string | number | undefined>; value: number }>
}

/** q-quantile of a prom-client histogram in ms (its buckets in seconds), interpolated within its bucket. */
export function histogramQuantileMs(metric: HistogramSnapshot, q: number): number {
  const buckets = metric.values
    .filter((v) => v.metricName?.endsWith('_bucket'))
    .map((v) => ({ le: Number(v.labels.le), count: v.value }))
  const total = buckets.at(-1)?.count ?? 0
  if (!total) return 0
  const rank = q * total
  let previous = { le: 0, count: 0 }
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return Math.round(previous.le * 1000)
      const within = (rank - previous.count) / Math.max(1, bucket.count - previous.count)
      return Math.round((previous.le + (bucket.le - previous.le) * within) * 10_000) / 10
    }
    previous = bucket
  }
  return Math.round(previous.le * 1000)
}
