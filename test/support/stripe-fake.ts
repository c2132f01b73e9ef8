/**
 * A small, stateful stand-in for the slice of the Stripe API Floodgate uses, served over real HTTP so the
 * official `stripe` SDK talks to it unchanged (point it here with host/port/protocol). Responses are built
 * from the hand-written fixtures in test/fixtures/stripe/*.json (real Stripe shapes). It keeps Stripe's
 * idempotency rules (same key + same params = the stored answer; same key + other params = 400
 * idempotency_error), records every request with its Idempotency-Key, can misbehave on demand (5xx, lost
 * answers), and can deliver signed webhook events. Tests and the failure drills share it.
 *
 * What it is not: Stripe. Authorization windows, 3-D Secure, disputes and the ~24 h key retention are not
 * modelled; the contract tests (`STRIPE_SECRET_KEY`) check the real thing.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Stripe from 'stripe'

const FIXTURES = new URL('../fixtures/stripe/', import.meta.url)
const fixture = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'))

/** Stripe test payment methods that decline (https://docs.stripe.com/testing#declined-payments). */
const DECLINING = new Set([
  'pm_card_chargeDeclined',
  'pm_card_visa_chargeDeclined',
  'pm_card_chargeDeclinedInsufficientFunds',
])

export interface FakeIntent {
  id: string
  orderId: string
  amount: number
  currency: string
  status: 'requires_payment_method' | 'requires_capture' | 'succeeded' | 'canceled'
  amountReceived: number
  amountRefunded: number
  /** How many capture calls moved money (must never exceed 1). */
  captures: number
  chargeId: string
  created: number
}

export interface RecordedRequest {
  method: string
  path: string
  idempotencyKey: string | undefined
  params: Record<string, string>
  /** What the fake did: answered, failed before doing anything, or did the work and lost the answer. */
  fault: 'none' | 'error' | 'lost'
}

export interface FaultPlan {
  /** Share of mutating calls that get a 500 before anything happens. */
  errorRate?: number
  /** Share of mutating calls whose work is done but whose answer never comes (the client times out). */
  lostRate?: number
  /** How long a lost answer hangs before the socket is destroyed. */
  hangMs?: number
}

interface StoredAnswer {
  paramsHash: string
  status: number
  body: unknown
}

function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of new URLSearchParams(text)) out[k] = v
  return out
}

const hashParams = (method: string, path: string, params: Record<string, string>) =>
  createHash('sha256')
    .update(`${method} ${path} ${JSON.stringify(Object.entries(params).sort())}`)
    .digest('hex')
const newId = (prefix: string) => `${prefix}_3Qf${randomBytes(10).toString('hex')}`

const requestError = (status: number, code: string, message: string): [number, unknown] => [
  status,
  { error: { type: 'invalid_request_error', code, message } },
]
const noSuchIntent = (id: string | undefined) =>
  requestError(404, 'resource_missing', `No such payment_intent: '${id}'`)

export class FakeStripe {
  readonly intents = new Map<string, FakeIntent>()
  readonly refunds = new Map<string, { id: string; paymentIntent: string; amount: number; created: number }>()
  readonly requests: RecordedRequest[] = []
  readonly events: Stripe.Event[] = []
  private readonly answers = new Map<string, StoredAnswer>()
  private server?: Server
  faults: FaultPlan = {}
  /** Mean latency of every answer (spread ±50%), like a real API's. */
  latencyMs = 0
  url = ''
  port = 0

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res))
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve))
    this.port = (this.server!.address() as AddressInfo).port
    this.url = `http://127.0.0.1:${this.port}`
    return this
  }

  close(): Promise<void> {
    this.server?.closeAllConnections()
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  /** Every intent Stripe holds for one order. More than one captured = a double charge. */
  intentsFor(orderId: string): FakeIntent[] {
    return [...this.intents.values()].filter((i) => i.orderId === orderId)
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = ''
    for await (const chunk of req) text += chunk
    const url = new URL(req.url ?? '/', 'http://x')
    const method = req.method ?? 'GET'
    const params = method === 'GET' ? Object.fromEntries(url.searchParams) : parseForm(text)
    const key = req.headers['idempotency-key'] as string | undefined
    const entry: RecordedRequest = { method, path: url.pathname, idempotencyKey: key, params, fault: 'none' }
    this.requests.push(entry)
    const send = (status: number, body: unknown) =>
      res
        .writeHead(status, {
          'content-type': 'application/json',
          'request-id': `req_${randomBytes(6).toString('hex')}`,
        })
        .end(JSON.stringify(body))

    if (!/^Bearer sk_(test|live)_/.test(req.headers.authorization ?? '')) {
      send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } })
      return
    }
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs * (0.5 + Math.random())))
    const mutating = method === 'POST'
    const roll = Math.random()
    if (mutating && roll < (this.faults.errorRate ?? 0)) {
      entry.fault = 'error'
      send(500, fixture('error.api'))
      return
    }
    const lost = mutating && roll < (this.faults.errorRate ?? 0) + (this.faults.lostRate ?? 0)

    let status: number
    let body: unknown
    const paramsHash = hashParams(method, url.pathname, params)
    const stored = key && mutating ? this.answers.get(key) : undefined
    if (stored && stored.paramsHash !== paramsHash) {
      ;[status, body] = [400, fixture('error.idempotency')]
    } else if (stored) {
      ;[status, body] = [stored.status, stored.body]
    } else {
      ;[status, body] = this.route(method, url.pathname, params)
      if (key && mutating && status !== 500) this.answers.set(key, { paramsHash, status, body })
    }
    if (lost) {
      entry.fault = 'lost'
      setTimeout(() => res.destroy(), this.faults.hangMs ?? 1_500).unref()
      return
    }
    send(status, body)
  }

  private route(method: string, path: string, p: Record<string, string>): [number, unknown] {
    let m: RegExpExecArray | null
    if (method === 'POST' && path === '/v1/payment_intents') return this.createIntent(p)
    if (method === 'GET' && path === '/v1/payment_intents/search') return this.search(p)
    if ((m = /^\/v1\/payment_intents\/(pi_\w+)$/.exec(path)) && method === 'GET') return this.retrieve(m[1]!, p)
    if ((m = /^\/v1\/payment_intents\/(pi_\w+)\/capture$/.exec(path)) && method === 'POST')
      return this.capture(m[1]!, p)
    if ((m = /^\/v1\/payment_intents\/(pi_\w+)\/cancel$/.exec(path)) && method === 'POST') return this.cancel(m[1]!)
    if (method === 'POST' && path === '/v1/refunds') return this.refund(p)
    return [404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` } }]
  }

  private createIntent(p: Record<string, string>): [number, unknown] {
    const amount = Number(p.amount)
    if (!Number.isInteger(amount) || amount < 1 || !p.currency)
      return [
        400,
        { error: { type: 'invalid_request_error', message: 'Missing required param: amount.', param: 'amount' } },
      ]
    const intent: FakeIntent = {
      id: newId('pi'),
      orderId: p['metadata[floodgate_order]'] ?? '',
      amount,
      currency: p.currency,
      status: 'requires_capture',
      amountReceived: 0,
      amountRefunded: 0,
      captures: 0,
      chargeId: newId('ch'),
      created: Math.floor(Date.now() / 1000),
    }
    this.intents.set(intent.id, intent)
    if (DECLINING.has(p.payment_method ?? '')) {
      intent.status = 'requires_payment_method'
      const error = fixture('error.card_declined')
      error.error.charge = intent.chargeId
      error.error.payment_intent = this.view(intent)
      this.emit('payment_intent.payment_failed', intent)
      return [402, error]
    }
    this.emit('payment_intent.amount_capturable_updated', intent)
    return [200, this.view(intent)]
  }

  private retrieve(id: string, p: Record<string, string>): [number, unknown] {
    const intent = this.intents.get(id)
    if (!intent) return noSuchIntent(id)
    const expand = Object.entries(p).some(([k, v]) => k.startsWith('expand') && v === 'latest_charge')
    return [200, this.view(intent, expand)]
  }

  private search(p: Record<string, string>): [number, unknown] {
    const orderId = /metadata\['floodgate_order'\]:'([^']+)'/.exec(p.query ?? '')?.[1]
    const data = orderId ? this.intentsFor(orderId).map((i) => this.view(i)) : []
    return [200, { object: 'search_result', data, has_more: false, next_page: null, url: '/v1/payment_intents/search' }]
  }

  private capture(id: string, p: Record<string, string>): [number, unknown] {
    const intent = this.intents.get(id)
    if (!intent) return noSuchIntent(id)
    if (intent.status !== 'requires_capture') return [400, this.unexpected(intent, 'requires_capture', 'capture')]
    const amount = p.amount_to_capture ? Number(p.amount_to_capture) : intent.amount
    if (amount > intent.amount)
      return requestError(400, 'amount_too_large', 'Amount to capture is larger than the amount capturable.')
    intent.status = 'succeeded'
    intent.amountReceived = amount
    intent.captures += 1
    this.emit('payment_intent.succeeded', intent)
    return [200, this.view(intent)]
  }

  private cancel(id: string): [number, unknown] {
    const intent = this.intents.get(id)
    if (!intent) return noSuchIntent(id)
    if (intent.status === 'succeeded' || intent.status === 'canceled')
      return [400, this.unexpected(intent, 'requires_capture', 'cancel')]
    intent.status = 'canceled'
    this.emit('payment_intent.canceled', intent)
    return [200, this.view(intent)]
  }

  private refund(p: Record<string, string>): [number, unknown] {
    const intent = this.intents.get(p.payment_intent ?? '')
    if (!intent) return noSuchIntent(p.payment_intent)
    if (intent.status !== 'succeeded')
      return requestError(
        400,
        'charge_not_refundable',
        'This PaymentIntent does not have a successful charge to refund.',
      )
    const amount = p.amount ? Number(p.amount) : intent.amountReceived - intent.amountRefunded
    if (amount < 1 || intent.amountRefunded + amount > intent.amountReceived) {
      return requestError(
        400,
        'amount_too_large',
        `Refund amount (${amount}) is greater than unrefunded amount on charge.`,
      )
    }
    intent.amountRefunded += amount
    const refund = {
      ...fixture('refund'),
      id: newId('re'),
      amount,
      charge: intent.chargeId,
      payment_intent: intent.id,
      created: Math.floor(Date.now() / 1000),
      currency: intent.currency,
    }
    this.refunds.set(refund.id, { id: refund.id, paymentIntent: intent.id, amount, created: refund.created })
    this.emit('charge.refunded', intent, this.chargeView(intent))
    return [200, refund]
  }

  private unexpected(intent: FakeIntent, expected: string, action: string) {
    const error = fixture('error.unexpected_state')
    error.error.message = `This PaymentIntent's status is ${intent.status}, but must be ${expected} to ${action}.`
    error.error.payment_intent = this.view(intent)
    return error
  }

  private chargeView(intent: FakeIntent): Record<string, unknown> {
    return {
      ...fixture('charge'),
      id: intent.chargeId,
      amount: intent.amount,
      amount_captured: intent.amountReceived,
      amount_refunded: intent.amountRefunded,
      captured: intent.status === 'succeeded',
      refunded: intent.amountRefunded > 0 && intent.amountRefunded === intent.amountReceived,
      payment_intent: intent.id,
      currency: intent.currency,
    }
  }

  /** The intent as Stripe would render it (optionally with latest_charge expanded). */
  view(intent: FakeIntent, expandCharge = false): Record<string, unknown> {
    return {
      ...fixture('payment_intent'),
      id: intent.id,
      amount: intent.amount,
      amount_capturable: intent.status === 'requires_capture' ? intent.amount : 0,
      amount_received: intent.amountReceived,
      client_secret: `${intent.id}_secret_fake`,
      created: intent.created,
      currency: intent.currency,
      latest_charge: expandCharge ? this.chargeView(intent) : intent.chargeId,
      metadata: { floodgate_order: intent.orderId },
      status: intent.status,
      last_payment_error: intent.status === 'requires_payment_method' ? fixture('error.card_declined').error : null,
    }
  }

  private emit(type: string, intent: FakeIntent, object: Record<string, unknown> = this.view(intent)): void {
    this.events.push({
      ...fixture('event'),
      id: newId('evt'),
      type,
      created: Math.floor(Date.now() / 1000),
      data: { object },
    } as unknown as Stripe.Event)
  }

  /**
   * Signs and POSTs events to a webhook endpoint as Stripe would (Stripe-Signature over the raw body).
   * Returns the HTTP statuses. `timestamp` lets a test send a stale signature.
   */
  static async deliver(
    url: string,
    secret: string,
    events: Stripe.Event[],
    { timestamp }: { timestamp?: number } = {},
  ): Promise<number[]> {
    const statuses: number[] = []
    for (const event of events) {
      const payload = JSON.stringify(event)
      const header = Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) })
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': header },
        body: payload,
      })
      await res.arrayBuffer()
      statuses.push(res.status)
    }
    return statuses
  }
}
