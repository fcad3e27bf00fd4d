import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inlet, runJob, tempDir } from '../helpers.ts';

function writeJob(dir: string, text: string): string {
  const file = join(dir, 'job.yaml');
  writeFileSync(file, text);
  return file;
}

describe('inlet validate', () => {
  it('accepts a valid job with exit 0', async () => {
    const result = await inlet(['validate', 'examples/csv-to-parquet/job.yaml'], { dataDir: tempDir() });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /valid job "transactions-to-parquet"/);
  });

  it('names every problem by its YAML path and line, exit 2', async () => {
    const dir = tempDir();
    const job = writeJob(
      dir,
      `name: broken
source:
  type: file
  path: in
  format: { type: csv, delimiter: "" }
transforms:
  - rename: { a: b }
  - cast:
      amount: money
  - frobnicate: { x: 1 }
sinks:
  - type: file
    path: out
    format: orc
`,
    );
    const result = await inlet(['validate', job], { dataDir: tempDir() });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /source\.format\.delimiter \(line 5\)/);
    assert.match(result.stderr, /transforms\[1\]\.cast\.amount \(line 9\)/);
    assert.match(result.stderr, /transforms\[2\]\.frobnicate \(line 10\): Unrecognized key/);
    assert.match(result.stderr, /sinks\[0\]\.format \(line 14\)/);
    assert.match(result.stderr, /INLET_E_JOB_INVALID/);
  });

  it('reports a missing environment variable with its line; ${VAR:-default} and set variables interpolate', async () => {
    const dir = tempDir();
    const job = writeJob(
      dir,
      'name: env-test\nsource:\n  type: file\n  path: ${INLET_TEST_IN}\n  format: { type: csv }\nsink: { type: file, path: "${INLET_TEST_OUT:-out}" }\n',
    );
    const missing = await inlet(['validate', job], { dataDir: tempDir() });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /source\.path \(line 4\): environment variable INLET_TEST_IN is not set/);
    const set = await inlet(['validate', job], { dataDir: tempDir(), env: { INLET_TEST_IN: 'in' } });
    assert.equal(set.code, 0, set.stderr);
  });

  it('reports YAML syntax errors with their line', async () => {
    const dir = tempDir();
    const job = writeJob(dir, 'name: x\nsource: [unclosed\n');
    const result = await inlet(['validate', job], { dataDir: tempDir() });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /line \d+/);
    assert.match(result.stderr, /INLET_E_JOB_YAML/);
  });
});

describe('inlet run', () => {
  it('prints exactly one JSON object with --json, applies --set overrides, exit 0', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a.csv'), 'id,v\n1,10\n2,20\n3,30\n');
    const job = writeJob(
      dir,
      'name: set-test\nsource: { type: file, path: in, format: { type: csv } }\ntransforms:\n  - filter: "v > 0"\nsink: { type: file, path: out }\n',
    );
    const run = await runJob(job, join(dir, '.inlet'), ['--set', 'transforms[0].filter=v > 15']);
    assert.equal(run.code, 0);
    assert.deepEqual(
      Object.keys(run).sort(),
      ['code', 'counts', 'duration_ms', 'job', 'run_id', 'status', 'units'].sort(),
    );
    assert.deepEqual(run.counts, { received: 3, written: 2, quarantined: 0, filtered: 1 });
    assert.deepEqual(Object.keys(run.units[0]).sort(), [
      'filtered',
      'quarantined',
      'received',
      'status',
      'uri',
      'written',
    ]);
  });

  it('exits 2 for a bad job file, bad usage or a source path that does not exist', async () => {
    const dataDir = tempDir();
    assert.equal((await inlet(['run'], { dataDir })).code, 2);
    assert.equal((await inlet(['frobnicate'], { dataDir })).code, 2);
    assert.equal((await inlet(['run', 'x.yaml', '--bogus'], { dataDir })).code, 2);
    const dir = tempDir();
    const job = writeJob(
      dir,
      'name: nowhere\nsource: { type: file, path: nowhere, format: { type: csv } }\nsink: { type: file, path: out }\n',
    );
    const result = await inlet(['run', job], { dataDir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /nowhere does not exist/);
    const runs = JSON.parse((await inlet(['runs', '--json'], { dataDir })).stdout) as {
      status: string;
      error: string;
    }[];
    assert.equal(runs[0].status, 'failed', 'the failed run is recorded, not left running');
    assert.match(runs[0].error, /does not exist/);
  });

  it('keeps user SQL inside the run: an expression cannot read other files', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a.csv'), 'id\n1\n');
    const job = writeJob(
      dir,
      `name: sandbox\nsource: { type: file, path: in, format: { type: csv } }\ntransforms:\n  - derive: { leak: "(SELECT string_agg(column0, ',') FROM read_csv('/etc/passwd', header = false))" }\nsink: { type: file, path: out }\n`,
    );
    const run = await runJob(job, join(dir, '.inlet'));
    assert.equal(run.status, 'failed');
    assert.match(run.units[0].error ?? '', /Permission Error|disabled by configuration/);
    const injected = writeJob(
      dir,
      `name: inject\nsource: { type: file, path: in, format: { type: csv } }\ntransforms:\n  - filter: "true; DROP TABLE x"\nsink: { type: file, path: out }\n`,
    );
    const second = await runJob(injected, join(dir, '.inlet'));
    assert.equal(second.status, 'failed');
    assert.match(second.units[0].error ?? '', /transforms\[0\]\.filter.*not a valid SQL expression/);
  });
});

describe('inlet schema and connectors', () => {
  it('prints a draft-07 JSON Schema of the job file', async () => {
    const result = await inlet(['schema'], { dataDir: tempDir() });
    const schema = JSON.parse(result.stdout);
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.ok(schema.properties.source && schema.properties.transforms && schema.properties.sinks);
    assert.deepEqual(schema.required, ['name', 'source']);
  });

  it('lists connectors, with their JSON Schemas in --json', async () => {
    const text = await inlet(['connectors'], { dataDir: tempDir() });
    assert.match(text.stdout, /source\s+file/);
    assert.match(text.stdout, /sink\s+file/);
    const list = JSON.parse((await inlet(['connectors', '--json'], { dataDir: tempDir() })).stdout) as {
      kind: string;
      type: string;
      schema: { properties: object };
    }[];
    const source = list.find((c) => c.kind === 'source' && c.type === 'file')!;
    assert.ok('pattern' in source.schema.properties && 'format' in source.schema.properties);
  });

  it('shows a run with its units, and fails clearly for an unknown run', async () => {
    const dataDir = tempDir();
    const missing = await inlet(['runs', 'show', 'nope'], { dataDir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no run nope/);
    const run = await runJob('examples/ndjson-to-csv/job.yaml', dataDir, [
      '--set',
      `sink.path=${join(tempDir(), 'out')}`,
    ]);
    const shown = await inlet(['runs', 'show', run.run_id], { dataDir });
    assert.equal(shown.code, 0);
    assert.match(shown.stdout, /succeeded/);
    assert.match(shown.stdout, /events\.ndjson\s+received 7, written 4, quarantined 2, filtered 1/);
  });
});
