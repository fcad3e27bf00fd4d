-- Every alert raised and how its delivery went, per channel.
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  run_id TEXT,
  kind TEXT NOT NULL,
  channel TEXT NOT NULL,
  message TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX alerts_by_job ON alerts (job, kind, created_at);
