-- The service: jobs defined over the API (each change a new version), API keys, idempotent triggers.
CREATE TABLE jobs (
  job_id TEXT PRIMARY KEY,
  current_version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT
);

CREATE TABLE job_versions (
  job_id TEXT NOT NULL REFERENCES jobs (job_id),
  version INTEGER NOT NULL,
  source_text TEXT NOT NULL,
  -- The folder relative paths resolve against: a loaded job file's own folder, or NULL for the workspace.
  base_dir TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (job_id, version)
);

CREATE TABLE api_keys (
  key_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

CREATE TABLE run_requests (
  job_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (job_id, idempotency_key)
);
