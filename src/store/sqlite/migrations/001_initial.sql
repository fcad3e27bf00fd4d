CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  job TEXT NOT NULL,
  status TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  received INTEGER NOT NULL DEFAULT 0,
  written INTEGER NOT NULL DEFAULT 0,
  quarantined INTEGER NOT NULL DEFAULT 0,
  filtered INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  spec_json TEXT NOT NULL,
  stage_seconds_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_by_job ON runs (job, started_at);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE units (
  unit_id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (run_id),
  job TEXT NOT NULL,
  seq INTEGER NOT NULL,
  uri TEXT NOT NULL,
  content_hash TEXT,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  status TEXT NOT NULL,
  received INTEGER NOT NULL DEFAULT 0,
  written INTEGER NOT NULL DEFAULT 0,
  quarantined INTEGER NOT NULL DEFAULT 0,
  filtered INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  error_code TEXT,
  manifest_json TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX units_by_run ON units (run_id, seq);
CREATE INDEX units_by_identity ON units (job, uri, status);

CREATE TABLE job_locks (
  job TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  acquired_at TEXT NOT NULL
);

CREATE TABLE state (
  job TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (job, key)
);

CREATE TABLE quarantine_index (
  run_id TEXT NOT NULL,
  unit_id TEXT NOT NULL,
  uri TEXT NOT NULL,
  rule TEXT NOT NULL,
  count INTEGER NOT NULL,
  path TEXT NOT NULL,
  PRIMARY KEY (run_id, unit_id, rule)
);

CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  details_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_action ON audit_events (action, at);
