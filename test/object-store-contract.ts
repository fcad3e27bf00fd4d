import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { InletError } from '../src/core/errors.ts';
import type { ObjectStore } from '../src/core/object-store.ts';

/**
 * What every ObjectStore must do, run against each implementation on its real server.
 * `makeStore` returns a store rooted in an empty folder/prefix of its own.
 */
export function objectStoreContract(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`${name} object store`, () => {
    it('writes, stats, lists by prefix in key order, and reads back', async () => {
      const store = await makeStore();
      try {
        await store.write('in/b.csv', Readable.from([Buffer.from('b\n2\n')]));
        await store.write('in/a.csv', Readable.from([Buffer.from('a\n1\n')]));
        await store.write('in/deep/c.csv', Readable.from([Buffer.from('c\n')]));
        await store.write('other/x.csv', Readable.from([Buffer.from('x')]));
        const listed = await store.list('in/');
        assert.deepEqual(
          listed.map((o) => [o.key, o.size]),
          [
            ['in/a.csv', 4],
            ['in/b.csv', 4],
            ['in/deep/c.csv', 2],
          ],
        );
        assert.ok(
          listed.every((o) => o.mtimeMs > Date.now() - 3_600_000 && o.mtimeMs < Date.now() + 3_600_000),
        );
        assert.equal((await store.list('')).length, 4);
        const info = await store.stat('in/a.csv');
        assert.equal(info?.size, 4);
        assert.equal(await store.stat('in/missing.csv'), null);
        assert.equal((await buffer(await store.read('in/b.csv'))).toString(), 'b\n2\n');
        assert.match(store.uri('in/a.csv'), /in\/a\.csv$/);
      } finally {
        await store.close();
      }
    });

    it('reads from an offset, for resuming a broken transfer', async () => {
      const store = await makeStore();
      try {
        const data = randomBytes(300_000);
        await store.write('blob.bin', Readable.from([data]));
        const tail = await buffer(await store.read('blob.bin', { start: 123_456 }));
        assert.ok(tail.equals(data.subarray(123_456)));
      } finally {
        await store.close();
      }
    });

    it('streams a large object in and out unchanged', async () => {
      const store = await makeStore();
      try {
        // Larger than one multipart part (5 MB on S3), written as many small chunks.
        const chunks = Array.from({ length: 24 }, () => randomBytes(512 * 1024));
        await store.write('big/large.bin', Readable.from(chunks));
        assert.equal((await store.stat('big/large.bin'))?.size, 24 * 512 * 1024);
        const back = await buffer(await store.read('big/large.bin'));
        assert.ok(back.equals(Buffer.concat(chunks)));
      } finally {
        await store.close();
      }
    });

    it('moves an object (replacing the target) and deletes idempotently', async () => {
      const store = await makeStore();
      try {
        await store.write('from/a.txt', Readable.from([Buffer.from('new')]));
        await store.write('to/a.txt', Readable.from([Buffer.from('old')]));
        await store.move('from/a.txt', 'to/a.txt');
        assert.equal(await store.stat('from/a.txt'), null);
        assert.equal((await buffer(await store.read('to/a.txt'))).toString(), 'new');
        await store.move('to/a.txt', 'fresh/folder/a.txt');
        assert.equal((await buffer(await store.read('fresh/folder/a.txt'))).toString(), 'new');
        await store.delete('fresh/folder/a.txt');
        await store.delete('fresh/folder/a.txt');
        assert.equal(await store.stat('fresh/folder/a.txt'), null);
      } finally {
        await store.close();
      }
    });

    it('names a missing object with INLET_E_OBJECT_NOT_FOUND', async () => {
      const store = await makeStore();
      try {
        await assert.rejects(
          async () => buffer(await store.read('nope/missing.csv')),
          (error: unknown) =>
            error instanceof InletError &&
            error.code === 'INLET_E_OBJECT_NOT_FOUND' &&
            error.message.includes('nope/missing.csv'),
        );
      } finally {
        await store.close();
      }
    });
  });
}
