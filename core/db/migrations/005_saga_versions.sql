-- Every write to a saga's row names the version its run last read and moves it on by one. A run that another
-- run overtook (a stalled job re-run while the first is still alive) finds its version gone at its next write
-- and stops, instead of acting on what it read before: say, compensating a saga the other run completed.
ALTER TABLE sagas ADD COLUMN version bigint NOT NULL DEFAULT 0;
