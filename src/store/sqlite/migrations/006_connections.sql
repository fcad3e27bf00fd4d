-- Reusable connection configs jobs refer to by name; the config is sealed (AES-256-GCM).
CREATE TABLE connections (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  sealed_config TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (kind, name)
);
