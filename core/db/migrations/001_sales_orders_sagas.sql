-- Sales, orders and the saga log. Postgres is the source of truth for what was sold;
-- Redis only ever decides who gets to try.

CREATE TABLE sales (
  id                 text PRIMARY KEY,
  sku                text NOT NULL,
  name               text NOT NULL,
  price_cents        bigint NOT NULL CHECK (price_cents >= 0),
  currency           char(3) NOT NULL,
  stock              integer NOT NULL CHECK (stock > 0),
  -- Confirmed units. The CHECK is the last line against overselling, whatever Redis says.
  sold               integer NOT NULL DEFAULT 0,
  per_shopper_limit  integer NOT NULL CHECK (per_shopper_limit > 0),
  token_ttl_seconds  integer NOT NULL,
  hold_ttl_seconds   integer NOT NULL,
  starts_at          timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sales_never_oversold CHECK (sold >= 0 AND sold <= stock)
);

CREATE TABLE orders (
  id               text PRIMARY KEY,
  sale_id          text NOT NULL REFERENCES sales (id),
  token_id         text NOT NULL,
  token_gen        integer NOT NULL,
  shopper          text NOT NULL,
  status           text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'FAILED')),
  amount_cents     bigint NOT NULL,
  currency         char(3) NOT NULL,
  payment_method   text NOT NULL,
  idempotency_key  text NOT NULL,
  failure_reason   text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  confirmed_at     timestamptz,
  UNIQUE (sale_id, token_id, token_gen)
);
-- One order per token: a token may be tried again after a failed payment, but only one order ever confirms.
CREATE UNIQUE INDEX orders_one_confirmed_per_token ON orders (sale_id, token_id) WHERE status = 'CONFIRMED';
CREATE INDEX orders_by_sale_status ON orders (sale_id, status);

-- Per-shopper limit, enforced again at confirmation.
CREATE TABLE shopper_purchases (
  sale_id  text NOT NULL REFERENCES sales (id),
  shopper  text NOT NULL,
  units    integer NOT NULL CHECK (units >= 0),
  PRIMARY KEY (sale_id, shopper)
);

CREATE TABLE payments (
  order_id      text PRIMARY KEY REFERENCES orders (id),
  gateway       text NOT NULL,
  gateway_ref   text NOT NULL,
  status        text NOT NULL CHECK (status IN ('AUTHORIZED', 'CAPTURED', 'VOIDED', 'REFUNDED')),
  amount_cents  bigint NOT NULL,
  currency      char(3) NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sagas (
  id               text PRIMARY KEY,
  kind             text NOT NULL,
  status           text NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'COMPENSATING', 'COMPENSATED')),
  input            jsonb NOT NULL,
  -- [{ "step": "...", "undo": <what its compensation needs> }] in the order the steps completed
  completed_steps  jsonb NOT NULL DEFAULT '[]',
  failure          text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sagas_by_status ON sagas (status, updated_at);

CREATE TABLE saga_step_log (
  id        bigserial PRIMARY KEY,
  saga_id   text NOT NULL REFERENCES sagas (id),
  step      text NOT NULL,
  outcome   text NOT NULL CHECK (outcome IN ('completed', 'failed', 'compensated')),
  detail    text,
  at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saga_step_log_by_saga ON saga_step_log (saga_id);
