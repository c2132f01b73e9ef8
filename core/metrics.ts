import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** What operators watch during a drop, exposed at GET /metrics in Prometheus text format. */
export class Metrics {
  readonly registry = new Registry()
  readonly redeems = new Counter({
    name: 'floodgate_redeem_total',
    help: 'Redeem attempts by outcome (held, replayed, or the refusal code)',
    labelNames: ['sale', 'outcome'],
    registers: [this.registry],
  })
  readonly redeemSeconds = new Histogram({
    name: 'floodgate_redeem_duration_seconds',
    help: 'Time to answer a redeem request',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  })
  readonly orders = new Counter({
    name: 'floodgate_orders_total',
    help: 'Orders settled, by final status',
    labelNames: ['sale', 'status'],
    registers: [this.registry],
  })
  readonly sagaSteps = new Counter({
    name: 'floodgate_saga_steps_total',
    help: 'Saga steps by step and outcome',
    labelNames: ['step', 'outcome'],
    registers: [this.registry],
  })
  readonly holdsReleased = new Counter({
    name: 'floodgate_holds_released_total',
    help: 'Holds given back to stock, by reason',
    labelNames: ['sale', 'reason'],
    registers: [this.registry],
  })
  readonly settleSeconds = new Histogram({
    name: 'floodgate_checkout_duration_seconds',
    help: 'Redeem to final order status',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  })
  readonly settleBatchSize = new Histogram({
    name: 'floodgate_settle_batch_size',
    help: 'Checkout sagas run together in one settlement batch',
    buckets: [1, 2, 5, 10, 25, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  })
  readonly reconciled = new Counter({
    name: 'floodgate_reconciled_total',
    help: 'Things reconciliation repaired, by job',
    labelNames: ['job'],
    registers: [this.registry],
  })
  readonly webhooks = new Counter({
    name: 'floodgate_webhooks_total',
    help: 'Payment webhooks received, by outcome (applied, duplicate, ignored, unknown_order, bad_signature)',
    labelNames: ['outcome'],
    registers: [this.registry],
  })
  readonly queueDepth = new Gauge({
    name: 'floodgate_queue_waiting_jobs',
    help: 'Jobs waiting per BullMQ queue',
    labelNames: ['queue'],
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'floodgate_core_' })
  }
}
