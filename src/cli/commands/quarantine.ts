import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InletError } from '../../core/errors.ts';
import { DuckDbSession } from '../../engine/duckdb-session.ts';
import { listLiteral } from '../../engine/sql.ts';
import type { MetadataStore } from '../../store/store.ts';
import type { Output } from '../output.ts';

/** `inlet quarantine <run_id>`: the rejected records of a run with unit, line, rule and reason. */
export async function quarantineCommand(
  store: MetadataStore,
  dataDir: string,
  args: { runId: string; json: boolean },
  output: Output,
): Promise<number> {
  if (!(await store.getRun(args.runId)))
    throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${args.runId}`);
  const files = [...new Set((await store.listQuarantineEntries(args.runId)).map((entry) => entry.path))];
  const records = files.length
    ? await readRecords(
        files,
        join(dataDir, 'quarantine', args.runId),
        join(dataDir, 'spool', `q-${process.pid}`),
      )
    : [];
  if (args.json) {
    output.out(JSON.stringify({ run_id: args.runId, count: records.length, records }));
    return 0;
  }
  if (!records.length) output.out(`run ${args.runId} quarantined nothing`);
  for (const r of records) {
    output.out(`${r.unit}:${r.line ?? '?'}  [${r.rule}] ${r.reason}\n    ${r.record ?? ''}`);
  }
  return 0;
}

interface QuarantinedRecord extends Record<string, unknown> {
  unit: string;
  line: number | null;
  rule: string;
  reason: string;
  record: string | null;
}

async function readRecords(files: string[], dir: string, tempDir: string): Promise<QuarantinedRecord[]> {
  const session = await DuckDbSession.open({
    memoryLimit: '256MB',
    tempDirectory: tempDir,
    allowedDirectories: [dir, tempDir],
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
