-- Payments you can trust: a payment row is written PENDING before the gateway is called (so Postgres
-- knows every payment that can exist), refunds, webhook de-duplication, reconciliation flags and the
-- notification outbox.

ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
  CHECK (status IN ('PENDING', 'AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED', 'PARTIALLY_REFUNDED', 'REFUNDED'));
-- Unknown while PENDING: the gateway's answer was lost or has not come yet.
ALTER TABLE payments ALTER COLUMN gateway_ref DROP NOT NULL;
ALTER TABLE payments
  ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
  ADD COLUMN captured_cents  bigint  NOT NULL DEFAULT 0,
  ADD COLUMN refunded_cents  bigint  NOT NULL DEFAULT 0,
  ADD COLUMN failure         text,
  ADD CONSTRAINT payments_refunds_within_capture CHECK (refunded_cents >= 0 AND refunded_cents <= captured_cents);
CREATE INDEX payments_by_status ON payments (status, updated_at);
-- Webhooks name the PaymentIntent, not the order.
CREATE INDEX payments_by_gateway_ref ON payments (gateway_ref);

-- SUSPENDED: the saga stopped asking the gateway after PAYMENT_MAX_TRIES; reconciliation resumes it.
ALTER TABLE sagas DROP CONSTRAINT sagas_status_check;
ALTER TABLE sagas ADD CONSTRAINT sagas_status_check
  CHECK (status IN ('RUNNING', 'SUSPENDED', 'COMPLETED', 'COMPENSATING', 'COMPENSATED'));

-- Every webhook event applied, recorded in the same transaction as its effect: a redelivery is a no-op.
CREATE TABLE processed_events (
  id           text PRIMARY KEY,
  source       text NOT NULL,
  type         text NOT NULL,
  order_id     text,
  outcome      text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);

-- Full and partial refunds. The id is derived from the order and the caller's Idempotency-Key, so the
-- same request twice is one refund; the gateway key is derived from the id.
CREATE TABLE refunds (
  id            text PRIMARY KEY,
  order_id      text NOT NULL REFERENCES orders (id),
  amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
  reason        text NOT NULL,
  status        text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
  gateway_ref   text,
  failure       text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_by_order ON refunds (order_id);
CREATE INDEX refunds_by_status ON refunds (status, updated_at);

-- What reconciliation found and could not fix by itself (an order confirmed without a payment).
CREATE TABLE flags (
  id           bigserial PRIMARY KEY,
  kind         text NOT NULL,
  order_id     text NOT NULL,
  detail       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz,
  UNIQUE (kind, order_id)
);

-- Notifications written by the default provider. One per (order, type, ref, channel) however often a job re-runs.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  order_id    text NOT NULL,
  type        text NOT NULL,
  ref         text NOT NULL DEFAULT '',
  channel     text NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
  recipient   text NOT NULL,
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz,
  UNIQUE (order_id, type, ref, channel)
);

ALTER TABLE saga_step_log DROP CONSTRAINT saga_step_log_outcome_check;
ALTER TABLE saga_step_log ADD CONSTRAINT saga_step_log_outcome_check
  CHECK (outcome IN ('completed', 'failed', 'compensated', 'suspended'));
