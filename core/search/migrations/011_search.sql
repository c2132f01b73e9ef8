-- Product search on Postgres (the default engine): one row per product with a weighted tsvector (GIN), its
-- name folded for trigram matching (pg_trgm), and the vocabulary of known words that typos are corrected to.
-- The extensions live in `public` (one per database) and are always called schema-qualified, since core's
-- search_path may name only its own schema.
DO $$
DECLARE
  ext text;
  home text;
BEGIN
  FOREACH ext IN ARRAY ARRAY['pg_trgm', 'unaccent'] LOOP
    SELECT n.nspname INTO home FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ext;
    IF home IS NULL THEN
      EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA public', ext);
    ELSIF home <> 'public' THEN
      EXECUTE format('ALTER EXTENSION %I SET SCHEMA public', ext);
    END IF;
  END LOOP;
END
$$;

-- unaccent() is only STABLE (its dictionary could change); pinned to one dictionary it is safe to index.
CREATE FUNCTION search_fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;
-- The English stem of a folded word ('headphones' -> 'headphon'); a stop word stays as it is.
CREATE FUNCTION search_stem(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT coalesce((ts_lexize('english_stem', $1))[1], $1) $$;

CREATE TABLE search_documents (
  product_id        integer PRIMARY KEY,
  version           integer NOT NULL,
  active            boolean NOT NULL,
  slug              text NOT NULL,
  name              text NOT NULL,
  brand             text NOT NULL,
  category_slug     text NOT NULL,
  category_name     text NOT NULL,
  -- The product's category and its ancestors: a category filter matches the whole subtree.
  category_slugs    text[] NOT NULL,
  price_cents       integer NOT NULL,
  list_price_cents  integer NOT NULL,
  currency          char(3) NOT NULL,
  in_stock          boolean NOT NULL,
  image             jsonb,
  sku               text NOT NULL,
  created_at        timestamptz NOT NULL,
  name_folded       text NOT NULL,
  -- name A, brand and category names B, attribute values C, description D
  document          tsvector NOT NULL,
  indexed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX search_documents_fts ON search_documents USING gin (document);
CREATE INDEX search_documents_name_trgm ON search_documents USING gin (name_folded public.gin_trgm_ops);
CREATE INDEX search_documents_categories ON search_documents USING gin (category_slugs);

-- Words of names, brands, categories and attributes: what a misspelt word is corrected to ("did you mean").
CREATE TABLE search_terms (
  term  text PRIMARY KEY,
  stem  text NOT NULL
);
CREATE INDEX search_terms_trgm ON search_terms USING gin (term public.gin_trgm_ops);
CREATE INDEX search_terms_prefix ON search_terms (term text_pattern_ops);
CREATE INDEX search_terms_by_stem ON search_terms (stem);
