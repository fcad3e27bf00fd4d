-- Shared rate limits (GCRA), one row per limited endpoint: the theoretical arrival time of
-- the next call, in ms since the epoch. Every process using this store draws from the same
-- row, so a limit holds across runs and workers, not per process.
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  tat_ms INTEGER NOT NULL
);
