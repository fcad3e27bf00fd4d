import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { InletError } from '../core/errors.ts';
import { isCompressed, openDecompressedStream } from './input-stream.ts';
import { createNdjsonWriter, type NdjsonWriter } from './ndjson-writer.ts';
import { verifyXlsxArchive } from './xlsx-archive.ts';

export const excelFormatSchema = z
  .object({
    type: z.literal('excel'),
    sheet: z
      .union([z.string().min(1), z.number().int().min(1)])
      .optional()
      .describe(
        'The worksheet to read: its name, or its 1-based position among the tabs. Default: the first sheet.',
      ),
    header: z
      .boolean()
      .default(true)
      .describe(
        'The first row (after skip_rows) holds column names. Otherwise columns are named column1, column2, …',
      ),
    skip_rows: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Sheet rows to skip before the header (or the data).'),
  })
  .strict()
  .describe(
    'Excel workbooks (.xlsx, .xlsm), one worksheet per unit, read as a stream. Numbers, text, booleans and dates ' +
      '(as ISO-8601 strings) keep their type; formulas give their cached result, error cells null; empty rows are skipped.',
  );

export type ExcelFormat = z.output<typeof excelFormatSchema>;

/**
 * Streams the rows of one worksheet of an .xlsx file to an NDJSON file, one JSON object per row.
 * Throws INLET_E_PARSE for a missing sheet or a file that is not a valid .xlsx.
 */
export async function excelToNdjson(
  inputPath: string,
  outputPath: string,
  options: ExcelFormat,
  signal?: AbortSignal,
): Promise<{ records: number }> {
  signal?.throwIfAborted();
  // exceljs needs the ZIP's central directory, so a compressed workbook is expanded beside the output first.
  const path = isCompressed(inputPath)
    ? join(dirname(outputPath), `.${basename(outputPath)}.${randomUUID()}.xlsx`)
    : inputPath;
  try {
    if (path !== inputPath)
      await pipeline(openDecompressedStream(inputPath), createWriteStream(path), { signal });
    await verifyXlsxArchive(path, signal);
    return { records: await convertWorkbook(path, outputPath, options, signal) };
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    if (path !== inputPath) await rm(path, { force: true });
  }
}

/** What inlet uses of exceljs's streaming reader (its typings do not describe it). */
interface WorkbookReader extends AsyncIterable<WorksheetReader> {
  model?: { sheets?: Array<{ name: string }> };
  properties?: { model?: { date1904?: boolean } };
}

interface WorksheetReader extends AsyncIterable<SheetRow> {
  name: string;
  /** The sheet's XML: a stream of a temporary file when exceljs deferred the sheet. */
  iterator?: unknown;
}

interface SheetRow {
  number: number;
  eachCell(iteratee: (cell: SheetCell, column: number) => void): void;
}

interface SheetCell {
  value: unknown;
  numFmt?: unknown;
}

async function convertWorkbook(
  path: string,
  outputPath: string,
  options: ExcelFormat,
  signal: AbortSignal | undefined,
): Promise<number> {
  const { default: ExcelJS } = await import('exceljs');
  const input = createReadStream(path);
  const writer = createNdjsonWriter(outputPath);
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, {
    worksheets: 'emit',
    sharedStrings: 'cache',
    styles: 'cache',
    hyperlinks: 'ignore',
    entries: 'ignore',
  }) as unknown as WorkbookReader;
  const stop = stopSignal(input, signal);
  const work = readSelectedSheet(reader, writer, options, signal);
  // exceljs pipes the file without forwarding its errors, and waits forever once it is destroyed.
  work.catch(() => {});
  try {
    await Promise.race([work, stop.promise]);
    return await writer.close();
  } catch (error) {
    await writer.discard();
    if (error instanceof InletError || signal?.aborted || isSystemError(error)) throw error;
    const reason = `the workbook could not be read: ${(error as Error).message}`;
    throw new InletError('INLET_E_PARSE', `${basename(path)}: ${reason}`, { cause: error });
  } finally {
    stop.dispose();
    input.destroy();
  }
}

/** An operating-system error (EIO, ENOSPC, …): not the workbook's fault, and possibly transient. */
function isSystemError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** Rejects when reading the file fails or the run is aborted: events exceljs itself would never notice. */
function stopSignal(
  input: ReadStream,
  signal: AbortSignal | undefined,
): { promise: Promise<never>; dispose(): void } {
  let dispose = (): void => {};
  const promise = new Promise<never>((_, reject) => {
    const onError = (error: Error): void => reject(error);
    const onAbort = (): void => reject(signal?.reason);
    input.on('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    dispose = () => {
      input.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
  });
  promise.catch(() => {});
  return { promise, dispose: () => dispose() };
}

async function readSelectedSheet(
  reader: WorkbookReader,
  writer: NdjsonWriter,
  options: ExcelFormat,
  signal: AbortSignal | undefined,
): Promise<void> {
  const wanted = options.sheet ?? 1;
  let found = false;
  let zipOrder = 0;
  // Read to the end even after the sheet was found: exceljs removes its temporary files only then.
  for await (const sheet of reader) {
    zipOrder += 1;
    const position = (reader.model?.sheets ?? []).findIndex((s) => s.name === sheet.name) + 1 || zipOrder;
    if (found || (typeof wanted === 'string' ? sheet.name !== wanted : position !== wanted)) {
      // exceljs opens a deferred sheet's temporary file as soon as it offers the sheet, and deletes the
      // file once we move on: close it unread, ignoring the open failing after the delete.
      if (sheet.iterator instanceof Readable) sheet.iterator.on('error', () => {}).destroy();
      continue;
    }
    found = true;
    await writeRows(sheet, writer, options, reader.properties?.model?.date1904 === true, signal);
  }
  if (!found) {
    const names = (reader.model?.sheets ?? []).map((s) => s.name);
    throw sheetNotFound(wanted, names);
  }
}

function sheetNotFound(wanted: string | number, names: string[]): InletError {
  const sheet =
    typeof wanted === 'string' ? `no sheet named ${JSON.stringify(wanted)}` : `no sheet number ${wanted}`;
  const existing =
    names.length === 0
      ? 'the workbook has no worksheets'
      : `the workbook has ${names.length} sheet${names.length === 1 ? '' : 's'}: ${names.map((n) => JSON.stringify(n)).join(', ')}`;
  return new InletError('INLET_E_PARSE', `${sheet}; ${existing}`, {
    details: { sheet: wanted, sheets: names },
  });
}

async function writeRows(
  sheet: WorksheetReader,
  writer: NdjsonWriter,
  options: ExcelFormat,
  date1904: boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  let columns: ColumnNames | undefined = options.header ? undefined : createColumnNames([]);
  for await (const row of sheet) {
    signal?.throwIfAborted();
    if (row.number <= options.skip_rows) continue;
    const values: unknown[] = [];
    let empty = true;
    row.eachCell((cell, column) => {
      const value = cellValue(cell, date1904);
      values[column - 1] = value;
      if (value !== null) empty = false;
    });
    if (empty) continue;
    if (columns === undefined) {
      columns = createColumnNames(Array.from(values, headerName));
      continue;
    }
    writer.write(toRecord(values, columns));
    await writer.flush(signal);
  }
}

function toRecord(values: unknown[], columns: ColumnNames): Record<string, unknown> {
  // Null prototype: a column named __proto__ must stay an ordinary key.
  const record: Record<string, unknown> = Object.create(null);
  const width = Math.max(values.length, columns.headerWidth);
  for (let i = 0; i < width; i += 1) record[columns.nameOf(i)] = values[i] ?? null;
  return record;
}

interface ColumnNames {
  headerWidth: number;
  /** The key of the column at a 0-based index. */
  nameOf(index: number): string;
}

/** Unique keys: empty header cells become columnN, repeated names name_2, name_3, … */
function createColumnNames(header: Array<string | null>): ColumnNames {
  const used = new Set<string>();
  const names: string[] = [];
  const unique = (base: string): string => {
    let name = base;
    for (let n = 2; used.has(name); n += 1) name = `${base}_${n}`;
    used.add(name);
    return name;
  };
  header.forEach((name, index) => {
    names[index] = unique(name ?? `column${index + 1}`);
  });
  return {
    headerWidth: header.length,
    nameOf(index) {
      names[index] ??= unique(`column${index + 1}`);
      return names[index];
    },
  };
}

function headerName(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const name = String(value).trim();
  return name === '' ? null : name;
}

/** A cell's value as JSON: what the user sees in Excel, not exceljs's object for it. */
function cellValue(cell: SheetCell, date1904: boolean): unknown {
  const value = cell.value;
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof Date) return isoDate(value);
  if (typeof value !== 'object') return null;
  if ('richText' in value) return richText(value.richText);
  if ('error' in value) return null;
  if ('formula' in value || 'sharedFormula' in value)
    return formulaResult((value as { result?: unknown }).result, cell, date1904);
  // A hyperlink shows its text (itself plain or rich).
  if ('text' in value) return cellValue({ value: value.text }, date1904);
  return null;
}

/** exceljs's stream reader leaves formula results as raw numbers, even dates; errors as NaN. */
function formulaResult(result: unknown, cell: SheetCell, date1904: boolean): unknown {
  if (typeof result === 'number' && Number.isFinite(result) && isDateFormat(cell.numFmt)) {
    return isoDate(new Date(Math.round((result - 25569 + (date1904 ? 1462 : 0)) * 86_400_000)));
  }
  return cellValue({ value: result }, date1904);
}

function richText(runs: unknown): string {
  return Array.isArray(runs)
    ? runs.map((run: { text?: unknown }) => (typeof run?.text === 'string' ? run.text : '')).join('')
    : '';
}

function isoDate(date: Date): string | null {
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Excel's rule, as exceljs applies it to plain cells: a number format with date or time letters outside quotes and brackets. */
function isDateFormat(format: unknown): boolean {
  if (typeof format !== 'string') return false;
  return /[ymdhMsb]/.test(format.replace(/\[[^\]]*]/g, '').replace(/"[^"]*"/g, ''));
}
