-- Accounts: who a shopper (or an operator) is, across sessions and devices. Written only by core/account.

CREATE TABLE accounts (
  id             text PRIMARY KEY,
  -- Trimmed and lowercased by the API before it gets here; the CHECK keeps any other writer honest.
  email          text NOT NULL UNIQUE CHECK (email = lower(btrim(email))),
  -- scrypt$<log2 N>$<r>$<p>$<salt b64url>$<key b64url>: the parameters travel with the hash.
  password_hash  text NOT NULL,
  name           text,
  role           text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'operator', 'support')),
  verified_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One family per login; every refresh rotates to a new token of the same family. Presenting a token that was
-- already rotated (a stolen copy, or the real one after the thief used it) revokes the whole family.
CREATE TABLE refresh_families (
  id          text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts (id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  revoked_why text CHECK (revoked_why IN ('logout', 'reuse'))
);
CREATE INDEX refresh_families_by_account ON refresh_families (account_id);

CREATE TABLE refresh_tokens (
  -- sha256 of the opaque token: the token itself is never stored.
  token_hash  bytea PRIMARY KEY,
  family_id   text NOT NULL REFERENCES refresh_families (id),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'rotated')),
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  rotated_at  timestamptz
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE account_addresses (
  id           text PRIMARY KEY,
  account_id   text NOT NULL REFERENCES accounts (id),
  label        text,
  name         text NOT NULL,
  line1        text NOT NULL,
  line2        text,
  city         text NOT NULL,
  region       text,
  postal_code  text NOT NULL,
  country      char(2) NOT NULL,
  phone        text,
  is_default   boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_addresses_by_account ON account_addresses (account_id, created_at);
CREATE UNIQUE INDEX account_addresses_one_default ON account_addresses (account_id) WHERE is_default;
