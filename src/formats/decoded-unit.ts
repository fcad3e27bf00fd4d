/** What a decoder leaves in the run's DuckDB session for one unit. */
export interface DecodedUnit {
  /** Table of the unit's parsed rows in source order: rowid + 1 is a row's ordinal. */
  table: string;
  /** Table of rows the decoder itself rejected, columns (line BIGINT, rule VARCHAR, message VARCHAR, record VARCHAR); or null. */
  rejectsTable: string | null;
  /** Number of rows in rejectsTable. */
  rejected: number;
  /** SQL giving the source line (or record number) of the row whose ordinal is `ordinalSql`. */
  lineOf(ordinalSql: string): string;
}

/** Inputs every decoder gets. */
export interface DecodeRequest {
  /** The unit's bytes on local disk. */
  path: string;
  /** A directory of this run's spool where the decoder may write intermediate files. */
  spoolDir: string;
  /** A prefix unique to the unit for the tables the decoder creates. */
  tablePrefix: string;
  signal: AbortSignal;
}

/** The empty table decoders use for a unit with no rows at all (DuckDB tables need a column). */
export function emptyTableSql(table: string): string {
  return `CREATE OR REPLACE TABLE ${table} AS SELECT NULL::VARCHAR AS "value" LIMIT 0`;
}
