import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { startService, tempDir } from '../helpers.ts';

it('two service processes on one store fire each tick exactly once', async () => {
  const dir = tempDir('inlet-ticks-');
  mkdirSync(join(dir, 'jobs', 'tick', 'in'), { recursive: true });
  writeFileSync(join(dir, 'jobs', 'tick', 'in', 'a.csv'), 'id\n1\n');
  writeFileSync(
    join(dir, 'jobs', 'tick', 'job.yaml'),
    'name: every-second\nschedule: "* * * * * *"\nsource: { type: file, path: in, format: { type: csv } }\nsink: { type: file, path: out }\n',
  );
  const dataDir = join(dir, '.inlet');
  const start = (args: string[]) => startService(dataDir, { args, env: { INLET_ADMIN_KEY: 'tick-key' } });
  const first = await start(['--jobs', join(dir, 'jobs')]);
  const second = await start([]);
  await sleep(6000);
  await Promise.all([first.stop(), second.stop()]);

  const store = new SqliteStore(join(dataDir, 'inlet.db'));
  const ticks = await store.listTicks('every-second');
  const runs = await store.listRuns({ job: 'every-second', limit: 1000 });
  await store.close();
  assert.ok(ticks.length >= 4, `ticks fired: ${ticks.length}`);
  const started = ticks.filter((t) => t.outcome === 'started');
  assert.equal(new Set(started.map((t) => t.runId)).size, started.length, 'one run per tick');
  assert.equal(runs.length, started.length, 'every run belongs to exactly one tick; no tick ran twice');
  for (const tick of ticks) assert.match(tick.outcome, /^(started|skipped: the job was still running)$/);
});
