-- The operator's checkout hold (queue_all), kept by core itself: while it is on, redeem makes no new order
-- (a grant that already has one still gets it back), whoever calls core.
ALTER TABLE sales ADD COLUMN IF NOT EXISTS checkout_held boolean NOT NULL DEFAULT false;
