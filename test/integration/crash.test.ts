import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertIdentity, inlet, query, ROOT, runJob, tempDir } from '../helpers.ts';

const FILES = 8;
const ROWS = 20_000;

/** A folder of CSV files whose ids are unique across all of them, and a job loading them into Parquet. */
function fixture(): { dir: string; job: string; dataDir: string; out: string } {
  const dir = tempDir('inlet-crash-');
  mkdirSync(join(dir, 'in'));
  for (let f = 0; f < FILES; f++) {
    const lines = ['id,amount,label'];
    for (let i = 0; i < ROWS; i++) lines.push(`${f * ROWS + i},${(i % 1000) / 10},"label, ${i}"`);
    writeFileSync(join(dir, 'in', `part-${f}.csv`), `${lines.join('\n')}\n`);
  }
  const job = join(dir, 'job.yaml');
  writeFileSync(
    job,
    `name: crash-test
source: { type: file, path: in, pattern: "*.csv", format: { type: csv } }
transforms:
  - derive: { bucket: "id % 4" }
sink: { type: file, path: out, format: parquet, partition_by: [bucket] }
`,
  );
  return { dir, job, dataDir: join(dir, '.inlet'), out: join(dir, 'out') };
}

/** Every input row is in the output exactly once, and no file outside staging is partial. */
async function assertExactlyOnce(out: string): Promise<void> {
  const [stats] = await query<{ n: number; distinct_ids: number; sum_ids: string }>(
    `SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS distinct_ids, sum(id)::VARCHAR AS sum_ids
     FROM read_parquet('${out}/*/*.parquet')`,
  );
  const total = FILES * ROWS;
  assert.equal(stats.n, total, 'row count');
  assert.equal(stats.distinct_ids, total, 'no duplicates');
  assert.equal(stats.sum_ids, String((total * (total - 1)) / 2), 'the very ids of the input');
  assert.ok(!readdirSync(out).includes('.inlet-tmp'), 'staging is cleaned up');
}

function runUntilKilled(job: string, dataDir: string, env: Record<string, string>, killAfterMs?: number) {
  return new Promise<{ code: number | null; signal: string | null }>((done) => {
    const child = spawn(join(ROOT, 'bin', 'inlet'), ['run', job, '--json'], {
      env: { ...process.env, INLET_DATA_DIR: dataDir, INLET_LOG_LEVEL: 'silent', ...env },
      stdio: 'ignore',
    });
    if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code, signal) => done({ code, signal }));
  });
}

describe('crash safety: kill -9 at any moment, rerun, every row exactly once', () => {
  const points = ['unit.normalized@2', 'unit.loaded@3', 'unit.committing@4', 'unit.committed-files@5'];
  for (const point of points) {
    it(`recovers from a kill at ${point}`, async () => {
      const { job, dataDir, out } = fixture();
      const killed = await runUntilKilled(job, dataDir, { INLET_FAILPOINT: point });
      assert.equal(killed.signal, 'SIGKILL', 'the failpoint killed the run');

      const listed = await inlet(['runs', '--json'], { dataDir });
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { status: string }[]).map((r) => r.status),
        ['interrupted'],
      );

      const rerun = await runJob(job, dataDir);
      assert.equal(rerun.status, 'succeeded', JSON.stringify(rerun));
      assertIdentity(rerun);
      await assertExactlyOnce(out);
    });
  }

  it('recovers from kills at random moments, several in a row', async () => {
    const { job, dataDir, out } = fixture();
    for (const delay of [700, 1500, 2300, 3100]) {
      const result = await runUntilKilled(job, dataDir, {}, delay);
      if (result.code === 0) break;
    }
    const final = await runJob(job, dataDir);
    assert.equal(final.status, 'succeeded');
    await assertExactlyOnce(out);
    const runs = JSON.parse((await inlet(['runs', '--json'], { dataDir })).stdout) as { status: string }[];
    assert.equal(runs[0].status, 'succeeded');
    assert.ok(
      runs.slice(1).every((r) => ['interrupted', 'succeeded'].includes(r.status)),
      JSON.stringify(runs),
    );
  });
});

describe('stopping a run with Ctrl-C', () => {
  it('marks the run interrupted, exits 1, and the next run finishes the work exactly once', async () => {
    const dir = tempDir('inlet-sigint-');
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a.csv'), 'id\n1\n2\n');
    writeFileSync(join(dir, 'in', 'b.csv'), 'id\n3\n');
    writeFileSync(
      join(dir, 'slow.ts'),
      'export default async (rows: unknown[]) => { await new Promise((r) => setTimeout(r, 1500)); return rows; };\n',
    );
    const job = join(dir, 'job.yaml');
    writeFileSync(
      job,
      'name: sigint\nsource: { type: file, path: in, format: { type: csv } }\ntransforms:\n  - script: { module: slow.ts }\nsink: { type: file, path: out }\n',
    );
    const dataDir = join(dir, '.inlet');
    const child = spawn(join(ROOT, 'bin', 'inlet'), ['run', job], {
      env: { ...process.env, INLET_DATA_DIR: dataDir, INLET_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const closed = new Promise<number | null>((done) => child.on('close', done));
    for (let i = 0; i < 100; i++) {
      const runs = JSON.parse((await inlet(['runs', '--json'], { dataDir })).stdout || '[]') as {
        status: string;
      }[];
      if (runs[0]?.status === 'running') break;
      await sleep(100);
    }
    child.kill('SIGINT');
    assert.equal(await closed, 1);
    assert.match(stderr, /run the same command again/);
    const runs = JSON.parse((await inlet(['runs', '--json'], { dataDir })).stdout) as { status: string }[];
    assert.equal(runs[0].status, 'interrupted');
    const rerun = await runJob(job, dataDir);
    assert.equal(rerun.status, 'succeeded');
    const rows = await query<{ id: number }>(
      `SELECT id::INTEGER AS id FROM read_parquet('${dir}/out/*.parquet') ORDER BY id`,
    );
    assert.deepEqual(
      rows.map((r) => r.id),
      [1, 2, 3],
    );
  });
});
