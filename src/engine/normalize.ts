import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FormatSpec, LandedUnit, SqlSession } from '../core/connector.ts';
import { InletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { decodeUnit } from '../formats/index.ts';
import type { Counts } from '../store/store.ts';
import { duckDbError } from './duckdb-session.ts';
import { ident, literal } from './sql.ts';
import {
  baseRelation,
  compileTransforms,
  FLAGS,
  LIVE,
  type StepContext,
  type TransformStep,
} from './transforms/index.ts';
import { describe } from './transforms/relation.ts';

export interface NormalizeRequest {
  session: StepContext['session'];
  unit: LandedUnit;
  format: FormatSpec;
  transforms: readonly TransformStep[];
  /** Prefix for this unit's tables in the session, e.g. u7. */
  tablePrefix: string;
  spoolDir: string;
  baseDir: string;
  /** Where this unit's rejected records are written (Parquet). */
  quarantinePath: string;
  logger: Logger;
  signal: AbortSignal;
}

export interface NormalizedUnit {
  counts: Counts;
  /** A SELECT of the rows to load, in source order, without inlet's own columns. */
  liveRows: string;
  /** The same rows with their source line first (`__inlet_line`), in source order. */
  linedRows: string;
  /** How many rows each rule rejected (empty when nothing was quarantined). */
  quarantinedByRule: { rule: string; count: number }[];
}

/**
 * Decodes a landed unit, applies the transforms and splits its rows into the ones to
 * load, the ones filtered out and the ones rejected (written to the quarantine file).
 * Checks the accounting identity before anything is loaded.
 */
export async function normalizeUnit(request: NormalizeRequest): Promise<NormalizedUnit> {
  const { session, tablePrefix: p } = request;
  const decoded = await guard(() =>
    decodeUnit(
      session,
      { path: request.unit.localPath, spoolDir: request.spoolDir, tablePrefix: p, signal: request.signal },
      request.format,
    ),
  );
  const base = await baseRelation({ session }, decoded.table);
  const relation = await compileTransforms(base, request.transforms, {
    session,
    baseDir: request.baseDir,
    spoolDir: request.spoolDir,
    tablePrefix: p,
    logger: request.logger,
    signal: request.signal,
  });
  // The chain is not materialised: counting, quarantining and loading each read it from
  // the decoded table, which costs less time and memory than a second copy of the rows.
  // (Transform expressions must therefore be deterministic; the load checks the counts agree.)
  const chain = `(${relation.sql})`;

  const [tally] = await guard(() =>
    session.all<{
      total: number;
      live: number;
      rejected: number;
      filtered: number;
      fatal: number;
    }>(
      `SELECT count(*)::BIGINT AS total,
            count(*) FILTER (WHERE ${LIVE})::BIGINT AS live,
            count(*) FILTER (WHERE ${FLAGS.rule} IS NOT NULL)::BIGINT AS rejected,
            count(*) FILTER (WHERE ${FLAGS.rule} IS NULL AND ${FLAGS.drop} IS NOT NULL)::BIGINT AS filtered,
            count(*) FILTER (WHERE ${FLAGS.fatal})::BIGINT AS fatal
     FROM ${chain}`,
    ),
  );
  const counts: Counts = {
    received: Number(tally.total) + decoded.rejected,
    written: Number(tally.live),
    quarantined: Number(tally.rejected) + decoded.rejected,
    filtered: Number(tally.filtered),
  };
  if (counts.received !== counts.written + counts.quarantined + counts.filtered) {
    throw new InletError(
      'INLET_E_INTERNAL',
      `accounting identity broken for ${request.unit.uri}: ${JSON.stringify(counts)}`,
    );
  }
  if (Number(tally.fatal) > 0)
    await failUnit(session, chain, decoded.lineOf, Number(tally.fatal), request.unit.uri);

  const quarantinedByRule = counts.quarantined > 0 ? await writeQuarantine(request, decoded, chain) : [];
  const columns = relation.columns.map((c) => ident(c.name)).join(', ');
  return {
    counts,
    liveRows: `SELECT ${columns} FROM ${chain} AS n WHERE ${LIVE}`,
    linedRows: `SELECT ${decoded.lineOf(`n.${FLAGS.row}`)}::BIGINT AS __inlet_line, ${columns} FROM ${chain} AS n WHERE ${LIVE} ORDER BY n.${FLAGS.row}`,
    quarantinedByRule,
  };
}

async function failUnit(
  session: SqlSession,
  chain: string,
  lineOf: (ordinal: string) => string,
  fatal: number,
  uri: string,
) {
  const examples = await session.all<{ line: number | null; reason: string }>(
    `SELECT ${lineOf(FLAGS.row)} AS line, ${FLAGS.reason} AS reason FROM ${chain} AS n WHERE ${FLAGS.fatal} ORDER BY ${FLAGS.row} LIMIT 5`,
  );
  const listed = examples.map((e) => `line ${e.line ?? '?'}: ${e.reason}`).join('; ');
  throw new InletError(
    'INLET_E_VALIDATION_FAILED',
    `${fatal} row(s) broke a validate rule with on_fail: fail (${listed})`,
    {
      details: { uri, rows: fatal },
    },
  );
}

/** Writes the unit's rejected records (decoder rejects and rule rejects) to its quarantine file. */
async function writeQuarantine(
  request: NormalizeRequest,
  decoded: Awaited<ReturnType<typeof decodeUnit>>,
  chain: string,
): Promise<{ rule: string; count: number }[]> {
  const { session, tablePrefix: p } = request;
  const uri = literal(request.unit.uri);
  const rawColumns = await describe(session, `SELECT * FROM ${decoded.table}`);
  const record = rawColumns.length
    ? `to_json(struct_pack(${rawColumns.map((c) => `${ident(c.name)} := r.${ident(c.name)}`).join(', ')}))::VARCHAR`
    : 'NULL::VARCHAR';
  const parts = [
    `SELECT ${uri} AS unit, ${decoded.lineOf(`n.${FLAGS.row}`)}::BIGINT AS line, n.${FLAGS.rule} AS rule, n.${FLAGS.reason} AS reason, ${record} AS record
     FROM ${chain} n LEFT JOIN (SELECT *, rowid + 1 AS __inlet_ordinal FROM ${decoded.table}) r ON r.__inlet_ordinal = n.${FLAGS.row}
     WHERE n.${FLAGS.rule} IS NOT NULL`,
  ];
  if (decoded.rejectsTable) {
    parts.unshift(
      `SELECT ${uri} AS unit, line, rule, message AS reason, record FROM ${decoded.rejectsTable}`,
    );
  }
  await session.run(
    `CREATE OR REPLACE TABLE ${p}_quarantine AS SELECT * FROM (${parts.join(' UNION ALL ')}) ORDER BY line`,
  );
  await mkdir(dirname(request.quarantinePath), { recursive: true });
  await session.run(`COPY ${p}_quarantine TO ${literal(request.quarantinePath)} (FORMAT parquet)`);
  const byRule = await session.all<{ rule: string; count: number }>(
    `SELECT rule, count(*)::INTEGER AS count FROM ${p}_quarantine GROUP BY rule ORDER BY rule`,
  );
  return byRule;
}

/** Drops every table this unit created, so memory is bounded by one unit at a time. */
export async function dropUnitTables(session: SqlSession, tablePrefix: string): Promise<void> {
  const tables = await session.all<{ name: string }>(
    `SELECT table_name AS name FROM duckdb_tables() WHERE starts_with(table_name, ${literal(`${tablePrefix}_`)})`,
  );
  for (const { name } of tables) await session.run(`DROP TABLE IF EXISTS ${ident(name)}`);
}

/** Runs a DuckDB step, turning its errors into a parse error of the unit. */
async function guard<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof InletError) throw error;
    throw duckDbError(error, 'INLET_E_PARSE');
  }
}
