import { stat } from 'node:fs/promises';
import { z } from 'zod';
import type { SqlSession } from '../core/connector.ts';
import { listLiteral, literal } from '../engine/sql.ts';
import { type DecodedUnit, type DecodeRequest, emptyTableSql } from './decoded-unit.ts';

export const csvFormatSchema = z
  .object({
    type: z.literal('csv'),
    delimiter: z.string().min(1).max(4).default(',').describe('Field separator.'),
    header: z.boolean().default(true).describe('The first line holds column names.'),
    quote: z.string().max(1).default('"').describe('Quote character; empty for none.'),
    escape: z
      .string()
      .max(1)
      .optional()
      .describe('Escape character inside quotes; defaults to the quote character.'),
    encoding: z
      .enum(['utf-8', 'utf-16', 'latin-1'])
      .default('utf-8')
      .describe('Text encoding of the file. Bytes invalid in it quarantine their line.'),
    infer_types: z
      .boolean()
      .default(true)
      .describe(
        'Infer column types from a sample; false keeps every field a string (cast them with `cast`).',
      ),
    skip_rows: z.number().int().min(0).default(0).describe('Lines to skip before the header.'),
    null_values: z.array(z.string()).default(['']).describe('Field values read as NULL.'),
  })
  .strict()
  .describe('Delimited text. gzip (.gz) and zstd (.zst) compressed files are read by extension.');

export type CsvFormat = z.output<typeof csvFormatSchema>;

/**
 * Reads a CSV unit with DuckDB's parallel reader. Lines DuckDB cannot parse (wrong
 * column count, bad quoting, invalid encoding, values not of the inferred type) are
 * kept in a rejects table with their line instead of failing the unit.
 */
export async function decodeCsv(
  session: SqlSession,
  request: DecodeRequest,
  format: CsvFormat,
): Promise<DecodedUnit> {
  const { tablePrefix: p } = request;
  const table = `${p}_raw`;
  const rejectsTable = `${p}_rejects`;
  if ((await stat(request.path)).size === 0) {
    await session.run(emptyTableSql(table));
    return { table, rejectsTable: null, rejected: 0, lineOf: (ordinal) => ordinal };
  }
  const options = [
    `header = ${format.header}`,
    `delim = ${literal(format.delimiter)}`,
    `quote = ${literal(format.quote)}`,
    `escape = ${literal(format.escape ?? format.quote)}`,
    `encoding = ${literal(format.encoding)}`,
    `all_varchar = ${!format.infer_types}`,
    `skip = ${format.skip_rows}`,
    `nullstr = ${listLiteral(format.null_values)}`,
    `compression = 'auto'`,
    `store_rejects = true`,
    `rejects_table = ${literal(`${p}_reject_errors`)}`,
    `rejects_scan = ${literal(`${p}_reject_scans`)}`,
  ];
  const read = (extra: string[]) =>
    session.run(
      `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_csv(${literal(request.path)}, ${[...options, ...extra].join(', ')})`,
    );
  try {
    await read([]);
  } catch (error) {
    if (!/sniffing/i.test((error as Error).message)) throw error;
    // DuckDB's sniffer gives up on files whose damage it cannot model (an unclosed quote
    // swallows the rest of the file). Read them with the declared dialect and the header's
    // columns as text instead, so the damaged lines are quarantined, not the whole file.
    const columns = await headerColumns(session, request.path, format);
    await read([
      'auto_detect = false',
      `columns = {${columns.map((c) => `${literal(c)}: 'VARCHAR'`).join(', ')}}`,
    ]);
  }
  // One bad line can carry several errors (one per column): a line is one rejected row.
  await session.run(
    `CREATE OR REPLACE TABLE ${rejectsTable} AS
     SELECT line::BIGINT AS line, 'parse' AS rule,
            string_agg(error_type || coalesce(' (column ' || column_name || ')', '') || ': ' || error_message, '; ' ORDER BY column_idx) AS message,
            first(csv_line) AS record
     FROM ${p}_reject_errors GROUP BY line ORDER BY line`,
  );
  const [{ n }] = await session.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${rejectsTable}`);
  const linesBeforeData = (format.header ? 1 : 0) + format.skip_rows;
  // Rejected lines are missing from the table, so a row's line is its ordinal plus the
  // header plus the rejected lines before it; gap_i = line_i - header - (i - 1) is the
  // ordinal of the row right after the i-th rejected line.
  await session.run(
    `CREATE OR REPLACE TABLE ${p}_gaps AS
     SELECT line - ${linesBeforeData} - (row_number() OVER (ORDER BY line) - 1) AS gap FROM ${rejectsTable}`,
  );
  return {
    table,
    rejectsTable,
    rejected: n,
    lineOf: (ordinal) =>
      `(${ordinal} + ${linesBeforeData} + (SELECT count(*) FROM ${p}_gaps WHERE gap <= ${ordinal}))`,
  };
}

/** Column names from the header line (or column0… when there is none), split by the declared dialect. */
async function headerColumns(session: SqlSession, path: string, format: CsvFormat): Promise<string[]> {
  const [first] = await session.all<{ line: string }>(
    `SELECT line FROM read_csv(${literal(path)}, columns = {'line': 'VARCHAR'}, delim = '\\0', quote = '', escape = '',
       header = false, auto_detect = false, compression = 'auto', encoding = ${literal(format.encoding)}, skip = ${format.skip_rows}) LIMIT 1`,
  );
  const fields = splitLine(first?.line ?? '', format.delimiter, format.quote);
  return format.header ? fields.map((f, i) => f.trim() || `column${i}`) : fields.map((_, i) => `column${i}`);
}

function splitLine(line: string, delimiter: string, quote: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (quote && line[i] === quote) {
      if (quoted && line[i + 1] === quote) {
        field += quote;
        i++;
      } else quoted = !quoted;
    } else if (!quoted && line.startsWith(delimiter, i)) {
      fields.push(field);
      field = '';
      i += delimiter.length - 1;
    } else field += line[i];
  }
  fields.push(field);
  return fields;
}
