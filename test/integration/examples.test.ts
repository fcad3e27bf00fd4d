import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertIdentity, inlet, query, ROOT, runJob, tempDir } from '../helpers.ts';

/** Copies an example into a temp folder so its outputs and ledger are the test's own. */
function exampleCopy(name: string): { dir: string; job: string; dataDir: string } {
  const dir = tempDir(`inlet-${name}-`);
  cpSync(join(ROOT, 'examples', name), dir, { recursive: true, filter: (src) => !src.includes('/output') });
  return { dir, job: join(dir, 'job.yaml'), dataDir: join(dir, '.inlet') };
}

describe('example: CSV with bad rows → Parquet partitioned by day', () => {
  it('loads the good rows, quarantines each bad row with its reason, and reads back exactly', async () => {
    const { dir, job, dataDir } = exampleCopy('csv-to-parquet');
    const run = await runJob(job, dataDir);
    assert.equal(run.code, 0, JSON.stringify(run));
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.counts, { received: 15, written: 8, quarantined: 7, filtered: 0 });
    assertIdentity(run);
    assert.deepEqual(
      run.units.map((u) => [u.uri.split('/').pop(), u.status, u.received, u.written, u.quarantined]),
      [
        ['transactions-2024-01.csv', 'committed', 10, 4, 6],
        ['transactions-2024-02.csv', 'committed', 5, 4, 1],
      ],
    );

    const rows = await query<{
      txn_id: string;
      email: string;
      amount: string;
      currency: string;
      day: string;
    }>(
      `SELECT txn_id, email, amount::VARCHAR AS amount, currency, day::VARCHAR AS day
       FROM read_parquet('${dir}/output/transactions/**/*.parquet', hive_partitioning = true) ORDER BY txn_id`,
    );
    const salted = (email: string) =>
      createHash('sha256').update(`example-salt-change-me${email}`).digest('hex');
    assert.deepEqual(
      rows.map((r) => [r.txn_id, r.amount, r.currency, r.day, r.email]),
      [
        ['1001', '12.50', 'EUR', '2024-01-02', salted('ana@example.com')],
        ['1002', '250.00', 'USD', '2024-01-02', salted('ben@example.com')],
        ['1004', '18.99', 'GBP', '2024-01-03', salted('dana@example.com')],
        ['1007', '42.00', 'EUR', '2024-01-04', salted('fay@example.com')],
        ['2001', '9.90', 'EUR', '2024-02-01', salted('ana@example.com')],
        ['2002', '120.00', 'USD', '2024-02-01', salted('ivy@example.com')],
        ['2003', '64.30', 'GBP', '2024-02-02', salted('jon@example.com')],
        ['2005', '33.33', 'EUR', '2024-02-03', salted('lee@example.com')],
      ],
    );

    const shown = await inlet(['quarantine', run.run_id, '--json'], { dataDir });
    assert.equal(shown.code, 0, shown.stderr);
    const { records } = JSON.parse(shown.stdout) as {
      records: { unit: string; line: number; rule: string; reason: string; record: string }[];
    };
    assert.deepEqual(
      records.map((r) => [r.unit.split('/').pop(), r.line, r.rule]),
      [
        ['transactions-2024-01.csv', 4, 'rule: amount >= 0'],
        ['transactions-2024-01.csv', 6, 'required: email'],
        ['transactions-2024-01.csv', 7, 'cast: amount as decimal(12,2)'],
        ['transactions-2024-01.csv', 9, "rule: currency IN ('EUR', 'USD', 'GBP')"],
        ['transactions-2024-01.csv', 10, 'unique: txn_id'],
        ['transactions-2024-01.csv', 11, 'parse'],
        ['transactions-2024-02.csv', 5, 'cast: ts as timestamp'],
      ],
    );
    const castFailure = records.find((r) => r.rule.startsWith('cast: amount'))!;
    assert.match(castFailure.reason, /'abc'/);
    assert.equal(
      JSON.parse(castFailure.record)['Transaction ID'],
      '1006',
      'the quarantined record is the source row',
    );
    assert.match(records.find((r) => r.rule === 'parse')!.record, /too,many,fields/);
  });

  it('ingests files once: a rerun skips unchanged files, a changed file is taken again, --reprocess forces', async () => {
    const { dir, job, dataDir } = exampleCopy('csv-to-parquet');
    await runJob(job, dataDir);
    const again = await runJob(job, dataDir);
    assert.equal(again.status, 'succeeded');
    assert.deepEqual(
      again.units.map((u) => u.status),
      ['skipped', 'skipped'],
    );
    assert.deepEqual(again.counts, { received: 0, written: 0, quarantined: 0, filtered: 0 });

    const feb = join(dir, 'data', 'transactions-2024-02.csv');
    writeFileSync(feb, `${readFileSync(feb, 'utf8')}2006,max@example.com,1.00,EUR,2024-02-04 10:00:00,\n`);
    const changed = await runJob(job, dataDir);
    assert.deepEqual(
      changed.units.map((u) => u.status),
      ['skipped', 'committed'],
    );
    assert.equal(changed.counts.received, 6);

    const forced = await runJob(job, dataDir, ['--reprocess']);
    assert.deepEqual(
      forced.units.map((u) => u.status),
      ['committed', 'committed'],
    );
    const [{ n }] = await query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM read_parquet('${dir}/output/transactions/**/*.parquet')`,
    );
    assert.equal(n, 8 + 5 + 9, 'append mode keeps what earlier runs wrote');

    const runs = await inlet(['runs', '--json'], { dataDir });
    assert.deepEqual(
      (JSON.parse(runs.stdout) as { status: string }[]).map((r) => r.status),
      ['succeeded', 'succeeded', 'succeeded', 'succeeded'],
    );
  });
});

describe('example: NDJSON → CSV with masking and a filter', () => {
  it('quarantines the malformed line, filters staging events, masks personal data', async () => {
    const { dir, job, dataDir } = exampleCopy('ndjson-to-csv');
    const run = await runJob(job, dataDir);
    assert.equal(run.code, 0, JSON.stringify(run));
    assert.deepEqual(run.counts, { received: 7, written: 4, quarantined: 2, filtered: 1 });
    const rows = await query<{ event_id: string; user_id: string; phone: string | null; ip: string | null }>(
      `SELECT event_id::VARCHAR AS event_id, user_id, phone, ip FROM read_csv('${dir}/output/events/*.csv', all_varchar = true) ORDER BY event_id`,
    );
    assert.deepEqual(rows, [
      { event_id: '1', user_id: 'u-17', phone: '*************23', ip: '[REDACTED]' },
      { event_id: '2', user_id: 'u-17', phone: '*************23', ip: '[REDACTED]' },
      { event_id: '4', user_id: 'u-21', phone: '*************43', ip: '[REDACTED]' },
      { event_id: '7', user_id: 'u-30', phone: '***************78', ip: '[REDACTED]' },
    ]);
    const shown = JSON.parse((await inlet(['quarantine', run.run_id, '--json'], { dataDir })).stdout);
    assert.deepEqual(
      shown.records.map((r: { line: number; rule: string; reason: string }) => [r.line, r.rule, r.reason]),
      [
        [5, 'parse', 'malformed JSON'],
        [6, 'required: user_id', 'user_id is missing'],
      ],
    );
  });
});

describe('example: XML → Parquet partitioned by year', () => {
  it('turns each <order> into a row and rejects the zero total', async () => {
    const { dir, job, dataDir } = exampleCopy('xml-to-parquet');
    const run = await runJob(job, dataDir);
    assert.equal(run.code, 0, JSON.stringify(run));
    assert.deepEqual(run.counts, { received: 4, written: 3, quarantined: 1, filtered: 0 });
    const rows = await query<{ order_id: number; customer: string; total: string; year: string }>(
      `SELECT order_id, customer, total::VARCHAR AS total, year::VARCHAR AS year
       FROM read_parquet('${dir}/output/orders/**/*.parquet', hive_partitioning = true) ORDER BY order_id`,
    );
    assert.deepEqual(rows, [
      { order_id: 1, customer: 'Acme Ltd', total: '199.00', year: '2023' },
      { order_id: 2, customer: 'Globex', total: '48.50', year: '2024' },
      { order_id: 4, customer: 'Umbrella, Inc.', total: '1250.75', year: '2024' },
    ]);
  });
});
