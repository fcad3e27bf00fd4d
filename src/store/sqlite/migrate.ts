import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');

/** Applies the numbered SQL files in migrations/ that this database has not seen, each in its own transaction. */
export function migrate(db: DatabaseSync): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  const done: number[] = [];
  for (const file of readdirSync(MIGRATIONS_DIR)
    .filter((name) => /^\d+_.+\.sql$/.test(name))
    .sort()) {
    const version = Number.parseInt(file, 10);
    if (isApplied.get(version)) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      // Checked again under the write lock: another process opening the same store may have
      // applied it between the first check and the lock.
      if (isApplied.get(version)) {
        db.exec('ROLLBACK');
        continue;
      }
      db.exec(readFileSync(join(MIGRATIONS_DIR, file), 'utf8'));
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        version,
        file,
        new Date().toISOString(),
      );
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
    done.push(version);
  }
  return done;
}
