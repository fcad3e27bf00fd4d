import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLocalStore } from '../connectors/local-files/object-store.ts';
import { silentLogger } from '../observability/logger.ts';
import { applyLifecycle, nextVersionKey } from './dispositions.ts';

function store() {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-disp-'));
  return { dir, store: createLocalStore(dir) };
}

describe('archive versions', () => {
  it('never reuses a name: name, name.v2, name.v3, with the version before the extension', async () => {
    const { store: s } = store();
    const put = (key: string) => s.write(key, Readable.from([Buffer.from('x')]));
    assert.equal(await nextVersionKey(s, 'archive', 'in/users.csv.gz'), 'archive/in/users.csv.gz');
    await put('archive/in/users.csv.gz');
    assert.equal(await nextVersionKey(s, 'archive', 'in/users.csv.gz'), 'archive/in/users.v2.csv.gz');
    await put('archive/in/users.v2.csv.gz');
    await put('archive/in/users.v3.csv.gz.error.json');
    assert.equal(await nextVersionKey(s, 'archive', 'in/users.csv.gz'), 'archive/in/users.v4.csv.gz');
    assert.equal(await nextVersionKey(s, 'archive', 'README'), 'archive/README');
    await put('archive/README');
    assert.equal(await nextVersionKey(s, 'archive', 'README'), 'archive/README.v2');
  });
});

describe('archive lifecycle', () => {
  it('moves archives older than the rule to the colder folder and keeps the rest', async () => {
    const { dir, store: s } = store();
    mkdirSync(join(dir, 'archive/2026'), { recursive: true });
    writeFileSync(join(dir, 'archive/2026/old.csv'), 'old');
    writeFileSync(join(dir, 'archive/2026/new.csv'), 'new');
    const old = new Date(Date.now() - 31 * 86_400_000);
    utimesSync(join(dir, 'archive/2026/old.csv'), old, old);
    const plan = {
      store: s,
      folder: 'archive/',
      sameStore: true,
      compress: false,
      encryptWith: null,
      lifecycle: { afterDays: 30, moveTo: 'cold/' },
    };
    assert.equal(await applyLifecycle(plan, silentLogger()), 1);
    assert.deepEqual(readdirSync(join(dir, 'archive/2026')), ['new.csv']);
    assert.deepEqual(readdirSync(join(dir, 'cold/2026')), ['old.csv']);
    assert.equal(
      await applyLifecycle({ ...plan, lifecycle: { afterDays: 30, moveTo: null } }, silentLogger()),
      0,
    );
  });
});
