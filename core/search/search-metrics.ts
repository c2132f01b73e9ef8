import { Counter, Histogram, type Registry } from 'prom-client'

/** The search domain's metrics, on core's registry (GET /metrics). */
export class SearchMetrics {
  readonly searchSeconds: Histogram<'engine' | 'kind'>
  readonly indexLagSeconds: Histogram
  readonly synced: Counter<'outcome'>

  constructor(registry: Registry) {
    this.searchSeconds = new Histogram({
      name: 'floodgate_search_duration_seconds',
      help: 'Time to answer a search or suggest request, by engine',
      labelNames: ['engine', 'kind'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    })
    this.indexLagSeconds = new Histogram({
      name: 'floodgate_search_index_lag_seconds',
      help: 'From a catalog change being committed to its search document being written',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    })
    this.synced = new Counter({
      name: 'floodgate_search_documents_synced_total',
      help: 'Search documents the outbox drain wrote (applied) or found already newer in the index (stale)',
      labelNames: ['outcome'],
      registers: [registry],
    })
  }
}
