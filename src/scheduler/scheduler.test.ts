import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { testLauncher } from '../../test/helpers.ts';
import { silentLogger } from '../observability/logger.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { Scheduler } from './scheduler.ts';

it('fires a current tick once, skips or runs once for ticks missed while down, per job', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-scheduler-'));
  mkdirSync(join(dir, 'in'));
  writeFileSync(join(dir, 'in', 'a.csv'), 'id\n1\n');
  const store = new SqliteStore(join(dir, 'inlet.db'));
  const job = (name: string, schedule: string) =>
    `name: ${name}\nschedule: ${schedule}\nsource: { type: file, path: in, format: { type: csv } }\nsink: { type: file, path: out-${name}, mode: overwrite }\n`;
  await store.saveJobVersion('every-minute', job('every-minute', '"* * * * *"'), 'test');
  await store.saveJobVersion('catch-up', job('catch-up', '{ cron: "* * * * *", missed: run_once }'), 'test');
  await store.saveJobVersion(
    'unscheduled',
    'name: unscheduled\nsource: { type: file, path: in, format: { type: csv } }\nsink: { type: file, path: out }\n',
    'test',
  );
  const launcher = testLauncher(store, dir);
  let now = new Date('2030-01-01T00:00:30Z');
  const scheduler = new Scheduler({ store, launcher, logger: silentLogger(), now: () => now });
  const settled = async () => {
    for (let i = 0; i < 100 && (await store.listRuns({ status: 'running' })).length; i++) await sleep(50);
  };

  await scheduler.poll();
  assert.equal((await store.listRuns({})).length, 0, 'no tick has come yet');

  now = new Date('2030-01-01T00:01:01Z');
  await scheduler.poll();
  await settled();
  await scheduler.poll();
  await settled();
  for (const name of ['every-minute', 'catch-up']) {
    const ticks = await store.listTicks(name);
    assert.deepEqual(
      ticks.map((t) => [t.tickAt, t.outcome]),
      [['2030-01-01T00:01:00.000Z', 'started']],
      `${name}: one tick, fired once`,
    );
  }
  assert.equal((await store.listRuns({ job: 'unscheduled' })).length, 0);

  // The service was "down" for nine minutes: ticks 00:02 … 00:10 were missed.
  now = new Date('2030-01-01T00:10:30Z');
  await scheduler.poll();
  await settled();
  const skipped = await store.listTicks('every-minute');
  assert.equal(skipped.length, 2);
  assert.match(skipped[1].outcome, /^skipped: 9 tick\(s\) missed/);
  assert.equal((await store.listRuns({ job: 'every-minute' })).length, 1, 'missed: skip starts nothing');
  const caughtUp = await store.listTicks('catch-up');
  assert.deepEqual(
    caughtUp.map((t) => t.outcome),
    ['started', 'started'],
  );
  assert.equal(
    (await store.listRuns({ job: 'catch-up' })).length,
    2,
    'missed: run_once runs once for all nine',
  );
  await launcher.shutdown();
  await store.close();
});

it('polls a watched job once per interval, runs it only when new files are there, and expires old archives hourly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-watch-'));
  mkdirSync(join(dir, 'in'));
  mkdirSync(join(dir, 'archive'));
  writeFileSync(join(dir, 'archive', 'ancient.csv'), 'id\n0\n');
  const { utimesSync } = await import('node:fs');
  utimesSync(join(dir, 'archive', 'ancient.csv'), new Date('2020-01-01'), new Date('2020-01-01'));
  const store = new SqliteStore(join(dir, 'inlet.db'));
  await store.saveJobVersion(
    'watched',
    `name: watched
trigger: { watch: { interval: 1m } }
source: { type: file, path: in, format: { type: csv } }
sink: { type: file, path: out }
on_success:
  archive: { path: archive, lifecycle: { after_days: 30 } }
`,
    'test',
  );
  const launcher = testLauncher(store, dir);
  let now = new Date('2030-01-01T00:00:10Z');
  const scheduler = new Scheduler({ store, launcher, logger: silentLogger(), now: () => now });
  const idle = async () => {
    await scheduler.stop();
    for (let i = 0; i < 100 && (await store.listRuns({ status: 'running' })).length; i++) await sleep(50);
  };

  await scheduler.poll();
  await scheduler.poll();
  await idle();
  assert.deepEqual(
    (await store.listTicks('watched#watch')).map((t) => t.outcome),
    ['nothing new'],
    'one poll per interval, and nothing to run',
  );
  assert.deepEqual(
    (await store.listTicks('watched#housekeeping')).map((t) => t.outcome),
    ['1 archive(s) expired'],
  );
  assert.equal((await store.listRuns({})).length, 0);

  writeFileSync(join(dir, 'in', 'a.csv'), 'id\n1\n');
  now = new Date('2030-01-01T00:01:05Z');
  await scheduler.poll();
  await idle();
  const [run] = await store.listRuns({ job: 'watched' });
  assert.equal(run?.status, 'succeeded', 'the new file started a run');
  assert.equal(run.written, 1);

  now = new Date('2030-01-01T00:02:05Z');
  await scheduler.poll();
  await idle();
  assert.equal((await store.listRuns({})).length, 1, 'the file, now archived, starts nothing more');
  assert.deepEqual(
    (await store.listTicks('watched#housekeeping')).map((t) => t.outcome),
    ['1 archive(s) expired'],
    'housekeeping waits for the next hour',
  );
  await launcher.shutdown();
  await store.close();
});
