import { Counter, type Registry } from 'prom-client'

/** The catalog domain's metrics, on core's registry (GET /metrics). */
export class CatalogMetrics {
  /** Shopper reads by route: how often the edge (or anyone) really reached core for catalog data. */
  readonly reads: Counter<'route'>
  readonly writes: Counter<'kind'>

  constructor(registry: Registry) {
    this.reads = new Counter({
      name: 'floodgate_catalog_reads_total',
      help: 'Catalog reads that reached core, by route',
      labelNames: ['route'],
      registers: [registry],
    })
    this.writes = new Counter({
      name: 'floodgate_catalog_writes_total',
      help: 'Catalog writes by kind (category, product, patch, archive, price, stock, import)',
      labelNames: ['kind'],
      registers: [registry],
    })
  }
}
