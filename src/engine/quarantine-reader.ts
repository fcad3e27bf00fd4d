import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetadataStore } from '../store/store.ts';
import { DuckDbSession } from './duckdb-session.ts';
import { listLiteral } from './sql.ts';

export interface QuarantinedRecord extends Record<string, unknown> {
  unit: string;
  line: number | null;
  rule: string;
  reason: string;
  /** The source record as JSON (or the raw line when it did not parse). */
  record: string | null;
}

/** The rejected records of a run, in unit and line order, read from its quarantine files. */
export async function readQuarantine(
  store: MetadataStore,
  dataDir: string,
  runId: string,
): Promise<QuarantinedRecord[]> {
  const files = [...new Set((await store.listQuarantineEntries(runId)).map((entry) => entry.path))];
  if (!files.length) return [];
  const tempDir = join(dataDir, 'spool', `q-${process.pid}-${Date.now()}`);
  const session = await DuckDbSession.open({
    memoryLimit: '256MB',
    tempDirectory: tempDir,
    allowedDirectories: [join(dataDir, 'quarantine', runId), tempDir],
  });
  try {
    return await session.all<QuarantinedRecord>(
      `SELECT unit, line::INTEGER AS line, rule, reason, record FROM read_parquet(${listLiteral(files)}) ORDER BY unit, line`,
    );
  } finally {
    session.close();
    await rm(tempDir, { recursive: true, force: true });
  }
}
