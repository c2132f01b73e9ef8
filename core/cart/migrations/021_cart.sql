-- Carts and everyday (non-drop) orders. Written only by core/cart. Postgres, not Redis: a cart outlives a
-- Redis restart. Stock itself stays the catalog's (catalog_variants.stock); a reservation records what a
-- checkout took from it until the order is confirmed (sold) or fails or expires (released).

CREATE TABLE carts (
  id          text PRIMARY KEY,
  -- NULL: a guest cart, known only by its id. An account has at most one cart.
  account_id  text UNIQUE REFERENCES accounts (id),
  -- A guest cart merged into an account's at login: its lines moved, kept for the merge to be idempotent.
  merged_into text REFERENCES carts (id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cart_lines (
  cart_id     text NOT NULL REFERENCES carts (id),
  sku         text NOT NULL,
  quantity    integer NOT NULL CHECK (quantity > 0),
  added_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cart_id, sku)
);

-- Everyday orders live in `orders` with the drop's: one payments table, one reconciliation, one order view.
-- A cart order has no sale and no token; its lines are in order_lines.
ALTER TABLE orders ALTER COLUMN sale_id DROP NOT NULL;
ALTER TABLE orders ALTER COLUMN token_id DROP NOT NULL;
ALTER TABLE orders ALTER COLUMN token_gen DROP NOT NULL;
ALTER TABLE orders ADD COLUMN kind text NOT NULL DEFAULT 'drop' CHECK (kind IN ('drop', 'cart'));
ALTER TABLE orders ADD CONSTRAINT orders_drop_has_sale
  CHECK (kind = 'cart' OR (sale_id IS NOT NULL AND token_id IS NOT NULL AND token_gen IS NOT NULL));

CREATE TABLE order_lines (
  order_id          text NOT NULL REFERENCES orders (id),
  sku               text NOT NULL,
  name              text NOT NULL,
  quantity          integer NOT NULL CHECK (quantity > 0),
  -- The price of the signed quote the shopper accepted.
  unit_price_cents  bigint NOT NULL CHECK (unit_price_cents >= 0),
  currency          char(3) NOT NULL,
  PRIMARY KEY (order_id, sku)
);

CREATE TABLE cart_reservations (
  order_id    text PRIMARY KEY REFERENCES orders (id),
  cart_id     text NOT NULL REFERENCES carts (id),
  -- [{ "sku": ..., "quantity": ... }] taken from catalog stock in one transaction.
  lines       jsonb NOT NULL,
  status      text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'sold', 'released')),
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cart_reservations_held ON cart_reservations (expires_at) WHERE status = 'held';
