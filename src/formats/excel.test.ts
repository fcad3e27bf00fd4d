import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import type { InletError } from '../core/errors.ts';
import { assertConversionFails } from './conversion-test-support.ts';
import { excelFormatSchema, excelToNdjson } from './excel.ts';

const dir = mkdtempSync(join(tmpdir(), 'inlet-excel-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ORDER_DATE = new Date(Date.UTC(2024, 2, 1, 12, 30));
let workbookPath = '';

/** A workbook with every kind of cell on its first sheet, and two more sheets. */
async function writeWorkbook(path: string): Promise<void> {
  const workbook = new ExcelJS.Workbook();
  const orders = workbook.addWorksheet('Orders');
  orders.addRow(['id', 'name', 'ordered', 'paid', 'total', 'due', 'note', 'site', 'check', '', 'name']);
  orders.addRow([
    1,
    'Alice',
    ORDER_DATE,
    true,
    { formula: 'A2*10', result: 10 },
    { formula: 'C2+30', result: new Date(Date.UTC(2024, 2, 31)) },
    { richText: [{ text: 'very ' }, { font: { bold: true }, text: 'urgent' }] },
    { text: 'example', hyperlink: 'https://example.com' },
    { error: '#N/A' },
    'no header',
    'dup',
  ]);
  orders.getCell('F2').numFmt = 'yyyy-mm-dd';
  orders.addRow([]);
  orders.addRow([2.5, 'Bob', null, false, { formula: 'A4*10', result: 25 }]);
  orders.addRow([null, null, null]);
  orders.getCell('C5').numFmt = 'yyyy-mm-dd';
  const notes = workbook.addWorksheet('Notes');
  notes.addRow(['exported by the accounting system']);
  notes.addRow([]);
  notes.addRow(['key', 'value']);
  notes.addRow(['a', 1]);
  notes.addRow(['b', 2]);
  const numbers = workbook.addWorksheet('Numbers');
  numbers.addRow([1, 2, 3]);
  numbers.addRow([4, null, 6]);
  await workbook.xlsx.writeFile(path);
}

before(async () => {
  workbookPath = join(dir, 'book.xlsx');
  await writeWorkbook(workbookPath);
});

let outputCounter = 0;
async function convert(input: string, options: Record<string, unknown> = {}) {
  outputCounter += 1;
  const output = join(dir, `out-${outputCounter}.ndjson`);
  const { records } = await excelToNdjson(
    input,
    output,
    excelFormatSchema.parse({ type: 'excel', ...options }),
  );
  const text = readFileSync(output, 'utf8');
  return {
    records,
    text,
    rows: text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line)),
  };
}

async function assertParseError(
  input: string,
  options: Record<string, unknown>,
  message: RegExp,
): Promise<InletError> {
  const output = join(dir, `failed-${outputCounter++}.ndjson`);
  return assertConversionFails(
    excelToNdjson(input, output, excelFormatSchema.parse({ type: 'excel', ...options })),
    output,
    'INLET_E_PARSE',
    message,
  );
}

describe('excelToNdjson', () => {
  it('reads the first sheet with typed values, unique header names and no empty rows', async () => {
    const { records, text } = await convert(workbookPath);
    assert.equal(records, 2);
    assert.equal(
      text,
      '{"id":1,"name":"Alice","ordered":"2024-03-01T12:30:00.000Z","paid":true,"total":10,' +
        '"due":"2024-03-31T00:00:00.000Z","note":"very urgent","site":"example","check":null,' +
        '"column10":"no header","name_2":"dup"}\n' +
        '{"id":2.5,"name":"Bob","ordered":null,"paid":false,"total":25,"due":null,"note":null,"site":null,' +
        '"check":null,"column10":null,"name_2":null}\n',
    );
  });

  it('selects a sheet by name and skips rows before its header', async () => {
    const { rows } = await convert(workbookPath, { sheet: 'Notes', skip_rows: 2 });
    assert.deepEqual(rows, [
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
  });

  it('selects a sheet by 1-based position and names columns without a header', async () => {
    const { rows } = await convert(workbookPath, { sheet: 3, header: false });
    assert.deepEqual(rows, [
      { column1: 1, column2: 2, column3: 3 },
      { column1: 4, column2: null, column3: 6 },
    ]);
  });

  it('names the sheets that exist when the sheet is missing', async () => {
    const byName = await assertParseError(workbookPath, { sheet: 'Order' }, /no sheet named "Order"/);
    assert.match(byName.message, /3 sheets: "Orders", "Notes", "Numbers"/);
    assert.deepEqual(byName.details.sheets, ['Orders', 'Notes', 'Numbers']);
    await assertParseError(workbookPath, { sheet: 4 }, /no sheet number 4; the workbook has 3 sheets/);
  });

  it('reads a gzip-compressed workbook and leaves no temporary copy behind', async () => {
    const compressed = join(dir, 'book.xlsx.gz');
    writeFileSync(compressed, gzipSync(readFileSync(workbookPath)));
    const before = readdirSync(dir).length;
    const { rows } = await convert(compressed, { sheet: 'Notes', skip_rows: 2 });
    assert.equal(rows.length, 2);
    assert.equal(readdirSync(dir).length, before + 1, 'only the output was added');
  });

  it('refuses a truncated workbook with INLET_E_PARSE', async () => {
    const bytes = readFileSync(workbookPath);
    const truncated = join(dir, 'truncated.xlsx');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assertParseError(
      truncated,
      {},
      /truncated\.xlsx is not a valid \.xlsx file: .*truncated or damaged/,
    );
  });

  it('refuses a workbook whose compressed data is damaged instead of hanging or skipping it', async () => {
    const bytes = Buffer.from(readFileSync(workbookPath));
    // Damage the middle of the first worksheet's compressed data.
    const sheetHeader = bytes.indexOf('xl/worksheets/sheet1.xml');
    bytes[sheetHeader + 24 + 200] ^= 0xff;
    const damaged = join(dir, 'damaged.xlsx');
    writeFileSync(damaged, bytes);
    await assertParseError(damaged, {}, /entry xl\/worksheets\/sheet1\.xml is damaged/);
  });

  it('refuses a CSV file renamed to .xlsx with a clear message', async () => {
    const csv = join(dir, 'renamed.xlsx');
    writeFileSync(csv, 'id,name\n1,Alice\n');
    await assertParseError(csv, {}, /not a ZIP archive.*"id,name/);
    const empty = join(dir, 'empty.xlsx');
    writeFileSync(empty, '');
    await assertParseError(empty, {}, /the file is empty/);
  });

  it('refuses a password-protected or legacy .xls workbook by its signature', async () => {
    const legacy = join(dir, 'legacy.xlsx');
    writeFileSync(legacy, Buffer.concat([Buffer.from('d0cf11e0a1b11ae1', 'hex'), Buffer.alloc(504)]));
    await assertParseError(legacy, {}, /password-protected workbook or a legacy \.xls/);
  });

  it('stops when aborted and rejects with the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('run cancelled');
    const output = join(dir, 'aborted.ndjson');
    const running = excelToNdjson(
      workbookPath,
      output,
      excelFormatSchema.parse({ type: 'excel' }),
      controller.signal,
    );
    controller.abort(reason);
    await assert.rejects(running, (error) => error === reason);
    assert.equal(existsSync(output), false);
  });

  it('validates its options', () => {
    assert.equal(excelFormatSchema.safeParse({ type: 'excel', sheet: 0 }).success, false);
    assert.equal(excelFormatSchema.safeParse({ type: 'excel', skip_rows: -1 }).success, false);
    assert.equal(excelFormatSchema.safeParse({ type: 'excel', sheets: 'a' }).success, false);
  });
});
