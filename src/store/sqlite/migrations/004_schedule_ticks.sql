-- One row per (job, tick): the primary key is what makes a tick fire exactly once when
-- several service processes share this store — only the insert that wins starts the run.
CREATE TABLE schedule_ticks (
  job_id TEXT NOT NULL,
  tick_at TEXT NOT NULL,
  outcome TEXT NOT NULL,
  run_id TEXT,
  claimed_by TEXT NOT NULL,
  claimed_at TEXT NOT NULL,
  PRIMARY KEY (job_id, tick_at)
);
