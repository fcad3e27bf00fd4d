import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import avro from 'avsc';
import ExcelJS from 'exceljs';
import { assertIdentity, query, runJob, tempDir } from '../helpers.ts';

const EXPECTED = [
  { id: '1', name: 'Zoë, "the first"', amount: '10.50' },
  { id: '2', name: 'Bob', amount: '-3.25' },
  { id: '3', name: 'Ça va', amount: '0.00' },
];

/** Runs a job over `file` in `format`, casting to common types, and returns the Parquet rows read back by DuckDB. */
async function ingest(
  dir: string,
  format: string,
  extraSteps = '',
): Promise<{ rows: typeof EXPECTED; received: number }> {
  const job = join(dir, 'job.yaml');
  writeFileSync(
    job,
    `name: formats
source: { type: file, path: in, format: ${format} }
transforms:${extraSteps}
  - cast:
      id: bigint
      amount: decimal(10,2)
sink: { type: file, path: out, format: parquet }
`,
  );
  const run = await runJob(job, join(dir, '.inlet'));
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assertIdentity(run);
  const rows = await query<(typeof EXPECTED)[number]>(
    `SELECT id::VARCHAR AS id, name, amount::VARCHAR AS amount FROM read_parquet('${dir}/out/*.parquet') ORDER BY id`,
  );
  return { rows, received: run.counts.received };
}

function inputDir(): string {
  const dir = tempDir('inlet-formats-');
  mkdirSync(join(dir, 'in'));
  return dir;
}

const csvText = 'id,name,amount\n1,"Zoë, ""the first""",10.50\n2,Bob,-3.25\n3,Ça va,0\n';

describe('every input format reads back row for row', () => {
  it('CSV, gzip-compressed', async () => {
    const dir = inputDir();
    writeFileSync(join(dir, 'in', 'a.csv.gz'), gzipSync(csvText));
    assert.deepEqual((await ingest(dir, '{ type: csv }')).rows, EXPECTED);
  });

  it('CSV, zstd-compressed, semicolon-delimited, Latin-1, without inference', async () => {
    const dir = inputDir();
    const latin1 = Buffer.from(csvText.replaceAll(',', ';').replace('Zoë; ', 'Zoë, '), 'latin1');
    writeFileSync(join(dir, 'in', 'a.csv.zst'), zstdCompressSync(latin1));
    const { rows } = await ingest(
      dir,
      '{ type: csv, delimiter: ";", encoding: latin-1, infer_types: false }',
    );
    assert.deepEqual(rows, EXPECTED);
  });

  it('NDJSON', async () => {
    const dir = inputDir();
    writeFileSync(
      join(dir, 'in', 'a.ndjson'),
      EXPECTED.map((r) => JSON.stringify({ ...r, id: Number(r.id), amount: Number(r.amount) })).join('\n'),
    );
    assert.deepEqual((await ingest(dir, '{ type: ndjson }')).rows, EXPECTED);
  });

  it('JSON document (an array of objects)', async () => {
    const dir = inputDir();
    writeFileSync(join(dir, 'in', 'a.json'), JSON.stringify(EXPECTED));
    assert.deepEqual((await ingest(dir, '{ type: json }')).rows, EXPECTED);
  });

  it('XML with attributes and child elements', async () => {
    const dir = inputDir();
    const records = EXPECTED.map(
      (r) =>
        `<item id="${r.id}"><name>${r.name.replaceAll('"', '&quot;')}</name><amount>${r.amount}</amount></item>`,
    );
    writeFileSync(
      join(dir, 'in', 'a.xml'),
      `<?xml version="1.0"?><feed><items>${records.join('')}</items></feed>`,
    );
    assert.deepEqual((await ingest(dir, '{ type: xml, record_path: feed/items/item }')).rows, EXPECTED);
  });

  it('Parquet', async () => {
    const dir = inputDir();
    await query(
      `COPY (SELECT * FROM (VALUES (1, 'Zoë, "the first"', 10.5), (2, 'Bob', -3.25), (3, 'Ça va', 0)) t(id, name, amount)) TO '${dir}/in/a.parquet' (FORMAT parquet)`,
    );
    assert.deepEqual((await ingest(dir, '{ type: parquet }')).rows, EXPECTED);
  });

  it('Avro', async () => {
    const dir = inputDir();
    const type = avro.Type.forSchema({
      type: 'record',
      name: 'Row',
      fields: [
        { name: 'id', type: 'long' },
        { name: 'name', type: 'string' },
        { name: 'amount', type: 'double' },
      ],
    });
    await new Promise<void>((done, fail) => {
      const encoder = avro.createFileEncoder(join(dir, 'in', 'a.avro'), type);
      encoder.on('finish', done).on('error', fail);
      for (const r of EXPECTED) encoder.write({ id: Number(r.id), name: r.name, amount: Number(r.amount) });
      encoder.end();
    });
    assert.deepEqual((await ingest(dir, '{ type: avro }')).rows, EXPECTED);
  });

  it('Excel, a chosen sheet', async () => {
    const dir = inputDir();
    const workbook = new ExcelJS.Workbook();
    workbook.addWorksheet('Notes').addRow(['ignore me']);
    const sheet = workbook.addWorksheet('Data');
    sheet.addRow(['id', 'name', 'amount']);
    for (const r of EXPECTED) sheet.addRow([Number(r.id), r.name, Number(r.amount)]);
    await workbook.xlsx.writeFile(join(dir, 'in', 'a.xlsx'));
    assert.deepEqual((await ingest(dir, '{ type: excel, sheet: Data }')).rows, EXPECTED);
  });
});
