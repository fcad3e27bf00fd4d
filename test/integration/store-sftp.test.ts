import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSftpStore, type SftpStoreOptions } from '../../src/connectors/sftp/object-store.ts';
import { InletError, type InletErrorCode, isTransient } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { ObjectStore } from '../../src/core/object-store.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { freePort } from '../helpers.ts';
import { objectStoreContract } from '../object-store-contract.ts';
import { type SftpServer, startSftpServer } from '../servers/sshd.ts';

let server: SftpServer;

before(async () => {
  server = await startSftpServer();
});

after(async () => {
  await server?.stop();
});

/** A new empty folder under the test user's home, owned by them, as an absolute path. */
function freshFolder(): string {
  const folder = join(server.home, `f-${randomBytes(6).toString('hex')}`);
  mkdirSync(folder);
  const { uid, gid } = statSync(server.home);
  chownSync(folder, uid, gid);
  return folder;
}

function passwordOptions(root = freshFolder()): SftpStoreOptions {
  return {
    host: server.host,
    port: server.port,
    username: server.username,
    password: server.password,
    root,
  };
}

interface LoggedEvent {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps what it was told, to check what an operator would see. */
function recordingLogger(events: LoggedEvent[] = [], bindings: Record<string, unknown> = {}): Logger {
  const record = (level: string) => (fields: Record<string, unknown>, event: string) => {
    events.push({ level, event, fields: { ...bindings, ...fields } });
  };
  return {
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    child: (more) => recordingLogger(events, { ...bindings, ...more }),
  };
}

function isInletError(code: InletErrorCode, ...mentions: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof InletError, `expected an InletError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const text of mentions)
      assert.ok(error.message.includes(text), `"${error.message}" should name ${text}`);
    return true;
  };
}

async function withStore<T>(options: SftpStoreOptions, use: (store: ObjectStore) => Promise<T>): Promise<T> {
  const store = createSftpStore(options, silentLogger());
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

objectStoreContract('sftp (password)', async () => createSftpStore(passwordOptions(), silentLogger()));

describe('sftp object store', () => {
  it('signs in with a private key', async () => {
    const { password: _, ...options } = passwordOptions();
    await withStore({ ...options, privateKey: server.privateKey }, async (store) => {
      await store.write('k/hello.txt', Readable.from([Buffer.from('hi')]));
      assert.equal((await buffer(await store.read('k/hello.txt'))).toString(), 'hi');
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        ['k/hello.txt'],
      );
    });
  });

  it('connects when the pinned host key matches and refuses a server whose key differs', async () => {
    await withStore({ ...passwordOptions(), hostKey: server.hostKeyFingerprint }, async (store) => {
      assert.deepEqual(await store.list(''), []);
    });
    const otherKey = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    await withStore({ ...passwordOptions(), hostKey: otherKey }, async (store) => {
      await assert.rejects(
        store.list(''),
        isInletError('INLET_E_REMOTE_AUTH', `127.0.0.1:${server.port}`, server.hostKeyFingerprint),
      );
    });
  });

  it('reports a wrong password as an auth error naming the login, never the password', async () => {
    const password = 'Wrong-Pa55word-For-Test';
    await withStore({ ...passwordOptions(), password }, async (store) => {
      await assert.rejects(store.stat('a.csv'), (error: unknown) => {
        isInletError('INLET_E_REMOTE_AUTH', `${server.username}@127.0.0.1:${server.port}`)(error);
        assert.ok(
          !JSON.stringify({ m: (error as Error).message, ...(error as InletError).details }).includes(
            password,
          ),
        );
        return true;
      });
    });
  });

  it('reports a server that refuses connections as transient', async () => {
    const port = await freePort();
    await withStore({ ...passwordOptions(), port }, async (store) => {
      await assert.rejects(store.list(''), (error: unknown) => {
        isInletError('INLET_E_REMOTE', `127.0.0.1:${port}`)(error);
        return isTransient(error);
      });
    });
  });

  it('refuses keys that would leave the root, in every method', async () => {
    const root = freshFolder();
    await withStore(passwordOptions(root), async (store) => {
      for (const key of ['../x', '/etc/passwd', 'a/../../x']) {
        const unsafe = isInletError('INLET_E_UNSAFE_NAME');
        await assert.rejects(store.write(key, Readable.from([Buffer.from('x')])), unsafe);
        await assert.rejects(store.read(key), unsafe);
        await assert.rejects(store.stat(key), unsafe);
        await assert.rejects(store.list(key), unsafe);
        await assert.rejects(store.move('fine.txt', key), unsafe);
        await assert.rejects(store.move(key, 'fine.txt'), unsafe);
        await assert.rejects(store.delete(key), unsafe);
        assert.throws(() => store.uri(key), unsafe);
      }
      assert.ok(!existsSync(join(server.home, 'x')));
      assert.deepEqual(readdirSync(root), []);
    });
  });

  it('names a missing root folder, but lists a missing sub-folder as empty', async () => {
    const root = join(server.home, 'no-such-folder');
    await withStore(passwordOptions(root), async (store) => {
      await assert.rejects(store.list(''), isInletError('INLET_E_OBJECT_NOT_FOUND', root));
      await assert.rejects(store.list('sub/'), isInletError('INLET_E_OBJECT_NOT_FOUND', root));
    });
    await withStore(passwordOptions(), async (store) => {
      assert.deepEqual(await store.list('not/there/yet/'), []);
    });
  });

  it('lists regular files only: no links, pipes or uploads in progress', async () => {
    const root = freshFolder();
    writeFileSync(join(root, 'real.csv'), 'a\n');
    symlinkSync(join(root, 'real.csv'), join(root, 'link.csv'));
    symlinkSync('/etc', join(root, 'etc-link'));
    execFileSync('mkfifo', [join(root, 'pipe.csv')]);
    writeFileSync(join(root, '.real.csv.inlet-part-0123456789ab'), 'half');
    await withStore(passwordOptions(root), async (store) => {
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        ['real.csv'],
      );
    });
  });

  it('names the URI and location without credentials, with single slashes', async () => {
    const root = freshFolder();
    await withStore(passwordOptions(`${root}//`), async (store) => {
      assert.equal(store.uri('in/a.csv'), `sftp://127.0.0.1:${server.port}${root}/in/a.csv`);
      assert.equal(store.location, `sftp://${server.username}@127.0.0.1:${server.port}${root}`);
      assert.ok(!store.location.includes(server.password));
    });
  });

  it('keeps the old file when an upload breaks off, and leaves no partial file behind', async () => {
    const root = freshFolder();
    await withStore(passwordOptions(root), async (store) => {
      await store.write('out/a.csv', Readable.from([Buffer.from('old')]));
      async function* breaksOff() {
        yield Buffer.alloc(100_000, 1);
        throw new Error('the producer failed');
      }
      await assert.rejects(store.write('out/a.csv', Readable.from(breaksOff())), /the producer failed/);
      assert.equal((await buffer(await store.read('out/a.csv'))).toString(), 'old');
      assert.deepEqual(readdirSync(join(root, 'out')), ['a.csv']);
    });
  });

  it('refuses a move whose source is missing without creating the target folder', async () => {
    const root = freshFolder();
    await withStore(passwordOptions(root), async (store) => {
      await assert.rejects(
        store.move('gone.csv', 'archive/gone.csv'),
        isInletError('INLET_E_OBJECT_NOT_FOUND', 'gone.csv'),
      );
      assert.ok(!existsSync(join(root, 'archive')));
    });
  });

  it('reports a folder the user may not write to as refused', async () => {
    const root = freshFolder();
    mkdirSync(join(root, 'locked'), { mode: 0o755 }); // owned by root, as the test runs
    await withStore(passwordOptions(root), async (store) => {
      await assert.rejects(
        store.write('locked/a.csv', Readable.from([Buffer.from('x')])),
        isInletError('INLET_E_REMOTE_REFUSED', 'locked/a.csv'),
      );
    });
  });

  it('reconnects after the server dropped the connection', async () => {
    const events: LoggedEvent[] = [];
    const store = createSftpStore(passwordOptions(), recordingLogger(events));
    try {
      await store.write('a.txt', Readable.from([Buffer.from('one')]));
      await server.dropConnections();
      await store.write('b.txt', Readable.from([Buffer.from('two')]));
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        ['a.txt', 'b.txt'],
      );
      assert.equal(events.filter((e) => e.event === 'sftp.connected').length, 2);
      assert.ok(!JSON.stringify(events).includes(server.password));
    } finally {
      await store.close();
    }
  });

  // Two ways a download dies: with a read request in flight (ssh2 fails it), and while the reader
  // is slow and nothing is asked (ssh2 would leave the next request waiting forever).
  for (const [when, pauseMs] of [
    ['while data flows', 0],
    ['while the reader is idle', 500],
  ] as const) {
    it(`fails a download cut off ${when} as transient, and resumes it from the bytes received`, {
      timeout: 60_000,
    }, async () => {
      const data = randomBytes(40 * 1024 * 1024);
      await withStore(passwordOptions(), async (store) => {
        await store.write('big.bin', Readable.from([data]));
        const received: Buffer[] = [];
        const download = (await store.read('big.bin'))[Symbol.asyncIterator]();
        received.push((await download.next()).value);
        await sleep(pauseMs);
        await server.dropConnections();
        await assert.rejects(
          (async () => {
            for (let next = await download.next(); !next.done; next = await download.next()) {
              received.push(next.value);
            }
          })(),
          (error: unknown) => {
            isInletError('INLET_E_REMOTE', 'big.bin')(error);
            return isTransient(error);
          },
        );
        const start = Buffer.concat(received).length;
        assert.ok(
          start > 0 && start < data.length,
          `${start} of ${data.length} bytes arrived before the drop`,
        );
        const rest = await buffer(await store.read('big.bin', { start }));
        assert.ok(Buffer.concat([...received, rest]).equals(data));
      });
    });
  }
});
