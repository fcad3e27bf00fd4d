import { stat } from 'node:fs/promises';
import { z } from 'zod';
import type { SqlSession } from '../core/connector.ts';
import { literal } from '../engine/sql.ts';
import { type DecodedUnit, type DecodeRequest, emptyTableSql } from './decoded-unit.ts';

export const ndjsonFormatSchema = z
  .object({ type: z.literal('ndjson') })
  .strict()
  .describe(
    'One JSON object per line (JSON Lines). A line that is not a JSON object is quarantined with its line number.',
  );

export const jsonFormatSchema = z
  .object({ type: z.literal('json') })
  .strict()
  .describe('A JSON document: an array of objects, or one object. A malformed document fails its unit.');

/**
 * Reads NDJSON line by line so one malformed line is quarantined instead of failing the
 * unit: DuckDB first loads the raw lines, then infers one structure over the valid ones
 * and unpacks each line into typed columns.
 */
export async function decodeNdjson(session: SqlSession, request: DecodeRequest): Promise<DecodedUnit> {
  const { tablePrefix: p } = request;
  const table = `${p}_raw`;
  const rejectsTable = `${p}_rejects`;
  const lines = `${p}_lines`;
  if ((await stat(request.path)).size === 0) {
    await session.run(emptyTableSql(table));
    return { table, rejectsTable: null, rejected: 0, lineOf: (ordinal) => ordinal };
  }
  // A NUL delimiter and no quoting make DuckDB's CSV reader hand over whole lines;
  // the table's rowid is then the line number - 1.
  await session.run(
    `CREATE OR REPLACE TABLE ${p}_text AS
     SELECT line FROM read_csv(${literal(request.path)}, columns = {'line': 'VARCHAR'}, delim = '\\0', quote = '', escape = '',
                               header = false, auto_detect = false, compression = 'auto', strict_mode = false)`,
  );
  await session.run(
    `CREATE OR REPLACE TABLE ${lines} AS
     SELECT rowid + 1 AS line_number, line,
            CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END AS ok
     FROM ${p}_text`,
  );
  await session.run(
    `CREATE OR REPLACE TABLE ${rejectsTable} AS
     SELECT line_number AS line, 'parse' AS rule,
            CASE WHEN json_valid(line) THEN 'not a JSON object' ELSE 'malformed JSON' END AS message, line AS record
     FROM ${lines} WHERE NOT ok AND line IS NOT NULL AND trim(line) <> ''`,
  );
  const [{ structure, rejected }] = await session.all<{ structure: string | null; rejected: number }>(
    `SELECT (SELECT json_group_structure(line::JSON) FROM ${lines} WHERE ok)::VARCHAR AS structure,
            (SELECT count(*)::INTEGER FROM ${rejectsTable}) AS rejected`,
  );
  if (structure === null) {
    await session.run(emptyTableSql(table));
  } else {
    // Unsigned integers are an artefact of inference from positive samples; BIGINT is what users expect.
    const typed = structure.replaceAll('"UBIGINT"', '"BIGINT"');
    await session.run(
      `CREATE OR REPLACE TABLE ${table} AS SELECT r.* FROM (SELECT json_transform(line, ${literal(typed)}) AS r FROM ${lines} WHERE ok ORDER BY line_number)`,
    );
  }
  await session.run(
    `CREATE OR REPLACE TABLE ${p}_line_map AS SELECT row_number() OVER (ORDER BY line_number) AS ordinal, line_number FROM ${lines} WHERE ok`,
  );
  return {
    table,
    rejectsTable,
    rejected,
    lineOf: (ordinal) => `(SELECT line_number FROM ${p}_line_map WHERE ordinal = ${ordinal})`,
  };
}

/** Reads a JSON document with DuckDB; rows are numbered by their position in the document. */
export async function decodeJson(session: SqlSession, request: DecodeRequest): Promise<DecodedUnit> {
  return decodeWithReader(
    session,
    request,
    `read_json(${literal(request.path)}, format = 'auto', compression = 'auto_detect')`,
  );
}

/** Reads NDJSON that inlet itself staged (from XML, Excel or Avro), known to be well formed. */
export async function decodeStagedNdjson(session: SqlSession, request: DecodeRequest): Promise<DecodedUnit> {
  if ((await stat(request.path)).size === 0) {
    const table = `${request.tablePrefix}_raw`;
    await session.run(emptyTableSql(table));
    return { table, rejectsTable: null, rejected: 0, lineOf: (ordinal) => ordinal };
  }
  return decodeWithReader(
    session,
    request,
    `read_json(${literal(request.path)}, format = 'newline_delimited', sample_size = -1, maximum_object_size = 16777216)`,
  );
}

/** Loads a unit through a DuckDB table function; any error fails the unit (no partial reads). */
export async function decodeWithReader(
  session: SqlSession,
  request: DecodeRequest,
  reader: string,
): Promise<DecodedUnit> {
  const table = `${request.tablePrefix}_raw`;
  await session.run(`CREATE OR REPLACE TABLE ${table} AS SELECT * FROM ${reader}`);
  return { table, rejectsTable: null, rejected: 0, lineOf: (ordinal) => ordinal };
}
