-- Settlement runs sagas in batches and records every step of every saga: one UPDATE of `sagas` per step.
-- Keeping updated_at out of every index lets those updates be HOT (no index writes, the old row version
-- pruned in place), and free space in each page gives them room to.
-- Reconciliation only looks for sagas that have not ended, so only those are indexed.
DROP INDEX sagas_by_status;
CREATE INDEX sagas_unfinished ON sagas (status) WHERE status IN ('RUNNING', 'SUSPENDED', 'COMPENSATING');
ALTER TABLE sagas SET (fillfactor = 50);

-- A completed step is recorded once, in the saga's row (completed_steps, each with its time), instead of
-- also as a row of saga_step_log: the log keeps what is out of the ordinary (failed, compensated,
-- suspended). The view shows a saga's whole history in one place, as the log alone used to.
CREATE VIEW saga_history AS
  SELECT s.id AS saga_id, e->>'step' AS step, 'completed'::text AS outcome, NULL::text AS detail, (e->>'at')::timestamptz AS at
  FROM sagas s CROSS JOIN LATERAL jsonb_array_elements(s.completed_steps) AS e
  UNION ALL
  SELECT saga_id, step, outcome, detail, at FROM saga_step_log WHERE outcome <> 'completed';

