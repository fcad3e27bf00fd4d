/**
 * Where an HTTP sink's time goes, piece by piece, in-process: what inlet does per call of
 * 100 records besides the call itself, each timed alone over as many calls as (b) of
 * bench/http-delivery.ts makes (default 5,000 calls = 500,000 records). Prints one Markdown
 * table; bench/README.md quotes it. Not a benchmark of its own: it explains one.
 *
 *   bin/node-24 bench/http-costs.ts [--records 500000]
 *
 * Pieces: the metadata store's writes per call (as SqliteStore does them, then the same
 * statements with synchronous = NORMAL, and with one commit per 50 calls), DuckDB streaming
 * the rows out as objects, the JSON and sha256 work deliver.ts does per batch, and the
 * response rules (outcomesOf) on a 100-result answer.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { outcomesOf } from '../src/connectors/http-api/responses.ts';
import type { ResponseRule } from '../src/connectors/http-api/schema.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { ensureUsers } from './generate-users.ts';

const BENCH = import.meta.dirname;
const DATA = join(BENCH, 'data');
const WORK = join(DATA, 'work-http-costs');
const BATCH = 100;

const { values } = parseArgs({ options: { records: { type: 'string', default: '500000' } } });
const records = Number(values.records);
const calls = Math.ceil(records / BATCH);
const log = (message: string) => process.stderr.write(`[http-costs] ${message}\n`);

interface Row {
  piece: string;
  seconds: number;
}
const rows: Row[] = [];

async function time(piece: string, work: () => unknown): Promise<void> {
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  rows.push({ piece, seconds });
  log(`${piece}: ${seconds.toFixed(2)} s`);
}

/** One call's worth of store writes, as endpoint.ts and deliver.ts make them. */
function callRecord(i: number) {
  return {
    runId: 'run',
    job: 'bench-crm-users',
    unitUri: 'file:///bench/data/users.csv',
    endpoint: 'http://127.0.0.1:1/api/ADD_CUST',
    batchKey: createHash('sha256').update(String(i)).digest('hex').slice(0, 40),
    attempt: 1,
    status: 200,
    requestId: '6f1c1f7e-7d0c-4a8e-9a57-3e4ad2f0c1b2',
    latencyMs: 5.4,
    records: BATCH,
    outcome: '100 success',
  };
}
const OUTCOMES = JSON.stringify(Array.from({ length: BATCH }, () => ({ o: 'success' })));

async function storeAsInlet(dir: string, label: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const store = new SqliteStore(join(dir, 'inlet.db'));
  await time(`store writes per call as inlet makes them (${label})`, async () => {
    for (let i = 0; i < calls; i++) {
      const call = callRecord(i);
      await store.deliveredBatch(call.batchKey);
      await store.recordHttpCall(call);
      await store.saveDeliveredBatch(call.batchKey, call.job, OUTCOMES);
    }
  });
  await store.close();
}

/** The same three statements on the same schema, with another durability setting or grouping. */
async function storeVariant(
  dir: string,
  label: string,
  synchronous: string,
  perCommit: number,
): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  // SqliteStore creates the schema (its migrations); the variant then opens the same file.
  await new SqliteStore(join(dir, 'inlet.db')).close();
  const db = new DatabaseSync(join(dir, 'inlet.db'));
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};`);
  const select = db.prepare('SELECT outcomes_json FROM http_batches WHERE batch_key = ?');
  const insertCall = db.prepare(
    `INSERT INTO http_calls (run_id, job, unit_uri, endpoint, batch_key, attempt, status, request_id, latency_ms, records, outcome, at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertBatch = db.prepare(
    'INSERT OR REPLACE INTO http_batches (batch_key, job, outcomes_json, delivered_at) VALUES (?, ?, ?, ?)',
  );
  await time(label, () => {
    for (let i = 0; i < calls; i++) {
      if (perCommit > 1 && i % perCommit === 0) db.exec('BEGIN');
      const c = callRecord(i);
      select.get(c.batchKey);
      const at = new Date().toISOString();
      insertCall.run(
        c.runId,
        c.job,
        c.unitUri,
        c.endpoint,
        c.batchKey,
        1,
        200,
        c.requestId,
        5.4,
        BATCH,
        c.outcome,
        at,
      );
      insertBatch.run(c.batchKey, c.job, OUTCOMES, at);
      if (perCommit > 1 && (i % perCommit === perCommit - 1 || i === calls - 1)) db.exec('COMMIT');
    }
  });
  db.close();
}

async function duckdbStream(path: string): Promise<Record<string, unknown>[][]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const batches: Record<string, unknown>[][] = [];
  try {
    await time('DuckDB: read the CSV into a table (normalize, roughly)', () =>
      connection.run(
        `CREATE TABLE raw AS SELECT * FROM read_csv('${path.replaceAll("'", "''")}', header = true, all_varchar = true)`,
      ),
    );
    await time('DuckDB: stream the rows out as JSON objects, in line order (deliver.ts)', async () => {
      const result = await connection.stream('SELECT rowid + 2 AS __inlet_line, * FROM raw ORDER BY rowid');
      let batch: Record<string, unknown>[] = [];
      for await (const chunk of result.yieldRowObjectJson()) {
        for (const row of chunk as Record<string, unknown>[]) {
          const { __inlet_line: _line, ...record } = row;
          batch.push(record);
          if (batch.length === BATCH) {
            batches.push(batch);
            batch = [];
          }
        }
      }
      if (batch.length) batches.push(batch);
    });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return batches;
}

async function jsonWork(batches: Record<string, unknown>[][]): Promise<void> {
  await time('JSON.stringify of each record, for max_bytes (deliver.ts)', () => {
    let bytes = 0;
    for (const batch of batches) for (const record of batch) bytes += JSON.stringify(record).length + 1;
    return bytes;
  });
  await time('batch key: sha256 over each record as JSON (deliver.ts)', () => {
    for (const [n, batch] of batches.entries()) {
      const hash = createHash('sha256').update(`job\nurl\nhash\n${n}\n`);
      for (const record of batch) hash.update(JSON.stringify(record)).update('\n');
      hash.digest('hex');
    }
  });
  await time('request body: JSON.stringify({records}) (endpoint.ts)', () => {
    for (const batch of batches) JSON.stringify({ records: batch });
  });
}

const RULES: ResponseRule[] = [
  { when: { body: { '$.code': 200 } }, outcome: 'success' },
  { when: { body: { '$.code': 8006 } }, outcome: 'route', to: 'update' },
  { when: { body: { '$.code': 3217 } }, outcome: 'fail' },
];

async function responseWork(): Promise<void> {
  const body = JSON.stringify({
    request_id: '6f1c1f7e-7d0c-4a8e-9a57-3e4ad2f0c1b2',
    results: Array.from({ length: BATCH }, (_, index) => ({
      index,
      customer_id: `C${String(index).padStart(9, '0')}`,
      code: 200,
      message: 'created',
    })),
  });
  await time('JSON.parse of the answer (endpoint.ts)', () => {
    for (let i = 0; i < calls; i++) JSON.parse(body);
  });
  const parsed = JSON.parse(body) as object;
  await time('response rules: outcomesOf with per_record $.results[*] (responses.ts)', () => {
    for (let i = 0; i < calls; i++) outcomesOf({ status: 200, body: parsed }, RULES, '$.results[*]', BATCH);
  });
}

const dataset = await ensureUsers(DATA, records, log);
log(`${records.toLocaleString('en-US')} records = ${calls.toLocaleString('en-US')} calls of ${BATCH}`);
await storeAsInlet(join(WORK, 'disk'), `${DATA} disk, synchronous = FULL`);
if (existsSync('/dev/shm')) await storeAsInlet('/dev/shm/inlet-http-costs', 'tmpfs, so fsync is free');
await storeVariant(
  join(WORK, 'normal'),
  'same writes, synchronous = NORMAL (WAL: no fsync per commit)',
  'NORMAL',
  1,
);
await storeVariant(
  join(WORK, 'grouped'),
  'same writes, synchronous = FULL, one commit per 50 calls',
  'FULL',
  50,
);
await rm('/dev/shm/inlet-http-costs', { recursive: true, force: true });
const batches = await duckdbStream(dataset.path);
await jsonWork(batches);
await responseWork();
await rm(WORK, { recursive: true, force: true });

const width = Math.max(...rows.map((r) => r.piece.length));
process.stdout.write(
  `| ${'piece'.padEnd(width)} | s for ${calls} calls | ms a call |\n| ${'-'.repeat(width)} | ---: | ---: |\n`,
);
for (const { piece, seconds } of rows)
  process.stdout.write(
    `| ${piece.padEnd(width)} | ${seconds.toFixed(2)} | ${((seconds * 1000) / calls).toFixed(3)} |\n`,
  );
