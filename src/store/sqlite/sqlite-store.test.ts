import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { it } from 'node:test';
import { SqliteStore } from './sqlite-store.ts';

const newPath = () => join(mkdtempSync(join(tmpdir(), 'inlet-store-')), 'inlet.db');
const unit = (runId: string, seq: number, uri: string, status: 'extracted' | 'committing') => ({
  unitId: `${runId}-${seq}`,
  runId,
  job: 'j',
  seq,
  uri,
  contentHash: 'h',
  size: 1,
  mtimeMs: 1,
  status,
  startedAt: new Date().toISOString(),
});

it('applies numbered migrations once, even when opened again', async () => {
  const path = newPath();
  await new SqliteStore(path).close();
  await new SqliteStore(path).close();
  const db = new DatabaseSync(path);
  const versions = db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[];
  assert.deepEqual(
    versions.map((v) => v.version),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  db.close();
});

it('keeps the ledger: last committed unit per URI, unfinished units for recovery', async () => {
  const store = new SqliteStore(newPath());
  await store.createRun({ runId: 'r1', job: 'j', pid: 1, host: 'h', spec: {} });
  await store.addUnit(unit('r1', 1, 'file:///a', 'extracted'));
  await store.addUnit(unit('r1', 2, 'file:///b', 'committing'));
  await store.updateUnit('r1-1', {
    status: 'committed',
    received: 5,
    written: 5,
    finishedAt: new Date().toISOString(),
  });
  assert.equal((await store.lastCommittedUnit('j', 'file:///a'))?.received, 5);
  assert.equal(await store.lastCommittedUnit('j', 'file:///b'), undefined);
  assert.deepEqual(
    (await store.unfinishedUnits('j')).map((u) => u.uri),
    ['file:///b'],
  );
  await store.close();
});

it('grants a job lock to one live holder at a time and takes over a dead one', async () => {
  const store = new SqliteStore(newPath());
  const first = { runId: 'r1', pid: 1, host: 'h' };
  assert.equal(await store.acquireJobLock('j', first, () => true), null);
  assert.deepEqual(await store.acquireJobLock('j', { runId: 'r2', pid: 2, host: 'h' }, () => true), first);
  assert.equal(
    await store.acquireJobLock('j', { runId: 'r3', pid: 3, host: 'h' }, () => false),
    null,
    'a dead holder is replaced',
  );
  await store.releaseJobLock('j', 'r3');
  assert.equal(await store.acquireJobLock('j', { runId: 'r4', pid: 4, host: 'h' }, () => true), null);
  await store.close();
});

it('versions jobs, keeps history after delete, and finds keys and idempotent triggers', async () => {
  const store = new SqliteStore(newPath());
  assert.equal(await store.saveJobVersion('j', 'name: j # v1', 'alice'), 1);
  assert.equal(await store.saveJobVersion('j', 'name: j # v2', 'bob', '/jobs/j'), 2);
  const current = await store.getJob('j');
  assert.deepEqual(
    [current?.version, current?.sourceText, current?.baseDir, current?.createdBy],
    [2, 'name: j # v2', '/jobs/j', 'bob'],
  );
  assert.equal(await store.deleteJob('j'), true);
  assert.equal(await store.getJob('j'), undefined);
  assert.equal(await store.deleteJob('j'), false);
  assert.deepEqual(
    (await store.listJobVersions('j')).map((v) => v.version),
    [1, 2],
    'history stays',
  );
  assert.equal(
    await store.saveJobVersion('j', 'name: j # v3', 'carol'),
    3,
    'recreating continues the versions',
  );

  await store.createApiKey({ keyId: 'k1', name: 'ops', role: 'operator', createdAt: 'now', keyHash: 'h1' });
  assert.equal((await store.findApiKey('h1'))?.role, 'operator');
  assert.equal(await store.findApiKey('h2'), undefined);

  await store.rememberRunRequest('j', 'key-1', 'run-1');
  await store.rememberRunRequest('j', 'key-1', 'run-2');
  assert.equal(await store.findRunRequest('j', 'key-1'), 'run-1', 'the first run stays the answer');
  await store.close();
});

it('chains audit events so that editing or deleting a past one is detected', async () => {
  const path = newPath();
  const store = new SqliteStore(path);
  for (const action of ['job.created', 'run.triggered', 'job.deleted']) {
    await store.appendAudit({ actor: 'alice', action, target: 'j', outcome: 'ok', details: { n: 1 } });
  }
  assert.deepEqual(await store.verifyAuditChain(), { verified: true, events: 3 });
  assert.deepEqual(
    (await store.listAudit({ action: 'run.triggered' })).map((e) => e.actor),
    ['alice'],
  );
  await store.close();

  const db = new DatabaseSync(path);
  db.prepare("UPDATE audit_events SET actor = 'mallory' WHERE id = 2").run();
  db.close();
  const reopened = new SqliteStore(path);
  assert.deepEqual(await reopened.verifyAuditChain(), { verified: false, events: 2, brokenAt: 2 });
  await reopened.close();

  const db2 = new DatabaseSync(path);
  db2.prepare("UPDATE audit_events SET actor = 'alice' WHERE id = 2").run();
  db2.prepare('DELETE FROM audit_events WHERE id = 1').run();
  db2.close();
  const third = new SqliteStore(path);
  assert.equal((await third.verifyAuditChain()).brokenAt, 2, 'a deleted event breaks the link of the next');
  await third.close();
});
