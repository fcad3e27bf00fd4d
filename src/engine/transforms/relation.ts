import type { SqlSession } from '../../core/connector.ts';
import type { Logger } from '../../core/logger.ts';
import { ident } from '../sql.ts';

/**
 * Every row carries its fate through the transform chain instead of disappearing:
 * steps never remove rows, they mark them, so the run can count each one.
 */
export const FLAGS = {
  /** 1-based ordinal of the row in its unit, used to find its source line. NULL for rows a script created. */
  row: '__inlet_row',
  /** Which rule rejected the row (NULL while it is alive); rejected rows go to quarantine. */
  rule: '__inlet_rule',
  /** Why, in words. */
  reason: '__inlet_reason',
  /** Which step filtered the row out (filter, dedupe, script); filtered rows are counted, not kept. */
  drop: '__inlet_drop',
  /** The rejecting rule asked to fail the whole unit (validate with on_fail: fail). */
  fatal: '__inlet_fatal',
} as const;

export const FLAG_NAMES: readonly string[] = Object.values(FLAGS);

/** SQL that is true for rows still alive (neither rejected nor filtered). */
export const LIVE = `(${FLAGS.rule} IS NULL AND ${FLAGS.drop} IS NULL)`;

export interface Column {
  name: string;
  type: string;
}

/** A SELECT over the unit's rows: user columns (with types) plus the FLAGS. */
export interface Relation {
  sql: string;
  columns: Column[];
}

/** What a transform step may use besides its config. */
export interface StepContext {
  session: SqlSession & { stream(sql: string): AsyncGenerator<Record<string, unknown>[]> };
  /** YAML path of the step, e.g. transforms[2].cast, for error messages. */
  path: string;
  /** Directory of the job file: relative paths (script modules) resolve against it. */
  baseDir: string;
  /** Spool directory and a table-name prefix unique to this unit and step. */
  spoolDir: string;
  tablePrefix: string;
  logger: Logger;
  signal: AbortSignal;
}

/** Columns and types of a SELECT, as DuckDB binds it. */
export async function describe(session: SqlSession, sql: string): Promise<Column[]> {
  const rows = await session.all<{ column_name: string; column_type: string }>(`DESCRIBE ${sql}`);
  return rows
    .filter((row) => !FLAG_NAMES.includes(row.column_name))
    .map((row) => ({ name: row.column_name, type: row.column_type }));
}

/** A conditional rejection: when `when` holds on a live row, the row is rejected by `rule` because of `reason`. */
export interface Rejection {
  when: string;
  rule: string;
  /** A SQL expression producing the reason text. */
  reason: string;
}

/** Builds the next relation: new user-column expressions, and optionally rejections or a filter. */
export function nextRelation(
  input: Relation,
  userColumns: string[],
  marks: { reject?: Rejection[]; fatal?: boolean; dropWhen?: string; dropBy?: string } = {},
): string {
  const flags = [FLAGS.row, FLAGS.rule, FLAGS.reason, FLAGS.drop, FLAGS.fatal].map((flag) => {
    if (marks.reject?.length && flag === FLAGS.rule)
      return `${caseOf(marks.reject, (r) => r.rule, FLAGS.rule)} AS ${flag}`;
    if (marks.reject?.length && flag === FLAGS.reason)
      return `${caseOf(marks.reject, (r) => r.reason, FLAGS.reason)} AS ${flag}`;
    if (marks.reject?.length && marks.fatal && flag === FLAGS.fatal)
      return `${caseOf(marks.reject, () => 'true', FLAGS.fatal)} AS ${flag}`;
    if (marks.dropWhen && flag === FLAGS.drop)
      return `CASE WHEN ${LIVE} AND (${marks.dropWhen}) THEN ${marks.dropBy} ELSE ${FLAGS.drop} END AS ${flag}`;
    return flag;
  });
  return `SELECT ${[...userColumns, ...flags].join(', ')} FROM (${input.sql}) AS t`;
}

function caseOf(rejections: Rejection[], value: (r: Rejection) => string, otherwise: string): string {
  const branches = rejections.map((r) => `WHEN ${LIVE} AND (${r.when}) THEN ${value(r)}`).join(' ');
  return `CASE ${branches} ELSE ${otherwise} END`;
}

/** The user columns of a relation, selected unchanged. */
export function passThrough(columns: readonly Column[]): string[] {
  return columns.map((column) => ident(column.name));
}
