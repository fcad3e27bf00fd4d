import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RejectedRecord, SqlSession } from '../core/connector.ts';
import { literal } from './sql.ts';

/**
 * Writes records a sink's far side refused to a quarantine Parquet file with the columns of
 * every other quarantine file (unit, line, rule, reason, record), the rule being
 * `delivery:<code>`; returns the count per rule.
 */
export async function writeRejectedRecords(
  session: SqlSession,
  rejected: readonly RejectedRecord[],
  uri: string,
  path: string,
  scratch: string,
): Promise<{ rule: string; count: number }[]> {
  const lines = rejected.map((r) =>
    JSON.stringify({
      unit: uri,
      line: r.line,
      rule: `delivery:${r.code}`,
      reason: r.reason,
      record: JSON.stringify(r.record),
    }),
  );
  await writeFile(scratch, `${lines.join('\n')}\n`);
  await mkdir(dirname(path), { recursive: true });
  try {
    await session.run(
      `COPY (SELECT * FROM read_json(${literal(scratch)}, format = 'newline_delimited', columns = {unit: 'VARCHAR', line: 'BIGINT', rule: 'VARCHAR', reason: 'VARCHAR', record: 'VARCHAR'}) ORDER BY line) TO ${literal(path)} (FORMAT parquet)`,
    );
  } finally {
    await rm(scratch, { force: true });
  }
  const counts = new Map<string, number>();
  for (const r of rejected) counts.set(`delivery:${r.code}`, (counts.get(`delivery:${r.code}`) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([rule, count]) => ({ rule, count }));
}
