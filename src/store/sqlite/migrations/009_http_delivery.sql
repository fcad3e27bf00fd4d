-- Every call an HTTP sink made: for audit, latency reports and reconciliation.
CREATE TABLE http_calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  job TEXT NOT NULL,
  unit_uri TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  batch_key TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status INTEGER NOT NULL,
  request_id TEXT,
  latency_ms REAL NOT NULL,
  records INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX http_calls_run ON http_calls (run_id);

-- Batches whose every record reached a final outcome: a rerun after a crash takes the
-- outcomes from here instead of sending the batch again.
CREATE TABLE http_batches (
  batch_key TEXT PRIMARY KEY,
  job TEXT NOT NULL,
  outcomes_json TEXT NOT NULL,
  delivered_at TEXT NOT NULL
);

-- Per unit, what an API sink did with its records: sent, succeeded, routed, refused by code.
ALTER TABLE units ADD COLUMN delivery_json TEXT;
CREATE INDEX http_calls_unit ON http_calls (run_id, unit_uri);
