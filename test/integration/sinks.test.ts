import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { inlet, query, ROOT, runJob, tempDir } from '../helpers.ts';

function setup(
  jobBody: string,
  files: Record<string, string>,
): { dir: string; job: string; dataDir: string } {
  const dir = tempDir('inlet-sinks-');
  mkdirSync(join(dir, 'in'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'in', name), text);
  const job = join(dir, 'job.yaml');
  writeFileSync(job, jobBody);
  return { dir, job, dataDir: join(dir, '.inlet') };
}

const events = 'id,ts,v\n1,2023-12-31 23:00:00,a\n2,2024-01-01 01:00:00,b\n3,2024-02-10 12:00:00,c\n';

describe('file sinks', () => {
  it('writes every row to every sink: Parquet by expression partitions, gzip NDJSON, zstd CSV', async () => {
    const { dir, job, dataDir } = setup(
      `name: multi
source: { type: file, path: in, format: { type: csv } }
sinks:
  - { type: file, path: out/parquet, format: parquet, compression: zstd, partition_by: ["year(ts)", { m: "month(ts)" }] }
  - { type: file, path: out/ndjson, format: ndjson, compression: gzip }
  - { type: file, path: out/csv, format: csv, compression: zstd }
`,
      { 'e.csv': events },
    );
    const run = await runJob(job, dataDir);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.deepEqual(readdirSync(join(dir, 'out', 'parquet')).sort(), ['year=2023', 'year=2024']);
    assert.deepEqual(readdirSync(join(dir, 'out', 'parquet', 'year=2024')).sort(), ['m=1', 'm=2']);
    const parquet = await query<{ id: number; year: number; m: number }>(
      `SELECT id::INTEGER AS id, year::INTEGER AS year, m::INTEGER AS m FROM read_parquet('${dir}/out/parquet/**/*.parquet', hive_partitioning = true) ORDER BY id`,
    );
    assert.deepEqual(parquet, [
      { id: 1, year: 2023, m: 12 },
      { id: 2, year: 2024, m: 1 },
      { id: 3, year: 2024, m: 2 },
    ]);
    const [ndjsonFile] = readdirSync(join(dir, 'out', 'ndjson'));
    assert.match(ndjsonFile, /\.json\.gz$/);
    const ndjson = await query<{ v: string }>(
      `SELECT v FROM read_json('${dir}/out/ndjson/${ndjsonFile}') ORDER BY id`,
    );
    assert.deepEqual(
      ndjson.map((r) => r.v),
      ['a', 'b', 'c'],
    );
    const [csvFile] = readdirSync(join(dir, 'out', 'csv'));
    assert.match(csvFile, /\.csv\.zst$/);
    const csv = await query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM read_csv('${dir}/out/csv/${csvFile}')`,
    );
    assert.equal(csv[0].n, 3);
  });

  it('overwrite mode rebuilds the output from every file on each run', async () => {
    const { dir, job, dataDir } = setup(
      'name: ow\nsource: { type: file, path: in, format: { type: csv } }\nsink: { type: file, path: out, mode: overwrite }\n',
      {
        'a.csv': 'id\n1\n2\n',
        'b.csv': 'id\n3\n',
      },
    );
    await runJob(job, dataDir);
    writeFileSync(join(dir, 'in', 'b.csv'), 'id\n3\n4\n');
    const second = await runJob(job, dataDir);
    assert.deepEqual(
      second.units.map((u) => u.status),
      ['committed', 'committed'],
      'overwrite never skips a file',
    );
    const rows = await query<{ id: number }>(
      `SELECT id::INTEGER AS id FROM read_parquet('${dir}/out/*.parquet') ORDER BY id`,
    );
    assert.deepEqual(
      rows.map((r) => r.id),
      [1, 2, 3, 4],
    );
    assert.equal(readdirSync(join(dir, 'out')).length, 2, 'only the files of the last run remain');
  });
});

describe('the ledger', () => {
  it('skips a file whose modification time changed but whose content did not', async () => {
    const { dir, job, dataDir } = setup(
      'name: touch\nsource: { type: file, path: in, format: { type: csv } }\nsink: { type: file, path: out }\n',
      { 'a.csv': 'id\n1\n' },
    );
    await runJob(job, dataDir);
    utimesSync(join(dir, 'in', 'a.csv'), new Date(), new Date(Date.now() + 60_000));
    const again = await runJob(job, dataDir);
    assert.deepEqual(
      again.units.map((u) => u.status),
      ['skipped'],
    );
  });

  it('refuses a second concurrent run of the same job', async () => {
    const { dir, job, dataDir } = setup(
      'name: slow\nsource: { type: file, path: in, format: { type: csv } }\ntransforms:\n  - script: { module: slow.ts }\nsink: { type: file, path: out }\n',
      { 'a.csv': 'id\n1\n' },
    );
    writeFileSync(
      join(dir, 'slow.ts'),
      'export default async (rows: unknown[]) => { await new Promise((r) => setTimeout(r, 4000)); return rows; };\n',
    );
    const first = spawn(join(ROOT, 'bin', 'inlet'), ['run', job, '--json'], {
      env: { ...process.env, INLET_DATA_DIR: dataDir, INLET_LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    const firstDone = new Promise((done) => first.on('close', done));
    for (let i = 0; i < 100; i++) {
      const runs = JSON.parse((await inlet(['runs', '--json'], { dataDir })).stdout || '[]') as {
        status: string;
      }[];
      if (runs[0]?.status === 'running') break;
      await sleep(100);
    }
    const second = await inlet(['run', job], { dataDir });
    assert.equal(second.code, 1);
    assert.match(second.stderr, /job slow is already running/);
    assert.equal(await firstDone, 0);
  });
});
