import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import {
  type AzureBlobStoreOptions,
  createAzureBlobStore,
} from '../../src/connectors/azure-blob/object-store.ts';
import { createS3Store, type S3StoreOptions } from '../../src/connectors/s3/object-store.ts';
import { InletError, type InletErrorCode, isTransient } from '../../src/core/errors.ts';
import type { ObjectStore } from '../../src/core/object-store.ts';
import { objectStoreContract } from '../object-store-contract.ts';
import { type AzuriteServer, startAzurite } from '../servers/azurite.ts';
import { type S3Server, startS3Server } from '../servers/s3rver.ts';

const BUCKET = 'landing';
const CONTAINER = 'landing';
let s3: S3Server;
let azurite: AzuriteServer;

before(async () => {
  [s3, azurite] = await Promise.all([startS3Server({ buckets: [BUCKET] }), startAzurite()]);
  await BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient(CONTAINER)
    .create();
});

after(async () => {
  await Promise.all([s3?.stop(), azurite?.stop()]);
});

/** A prefix no other test uses, nested to show prefixes of several segments work. */
function freshPrefix(): string {
  return `runs/${randomBytes(6).toString('hex')}`;
}

function s3Options(server: S3Server = s3): S3StoreOptions {
  return {
    bucket: BUCKET,
    prefix: freshPrefix(),
    endpoint: server.endpoint,
    forcePathStyle: true,
    region: server.region,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
  };
}

function sharedKeyOptions(server: AzuriteServer = azurite): AzureBlobStoreOptions {
  return {
    container: CONTAINER,
    prefix: freshPrefix(),
    accountUrl: server.accountUrl,
    accountName: server.accountName,
    accountKey: server.accountKey,
  };
}

function sasToken(): string {
  return generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3_600_000),
      permissions: AccountSASPermissions.parse('rwdlac'),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(),
    },
    new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
  ).toString();
}

/** Asserts the promise rejects with an InletError of `code` whose message passes `check`. */
async function rejectsWith(
  action: () => Promise<unknown>,
  code: InletErrorCode,
  check: (message: string) => boolean = () => true,
): Promise<InletError> {
  let caught: unknown;
  await assert.rejects(action, (error: unknown) => {
    caught = error;
    return error instanceof InletError && error.code === code && check(error.message);
  });
  return caught as InletError;
}

const text = (value: string) => Readable.from([Buffer.from(value)]);

objectStoreContract('S3 (s3rver)', async () => createS3Store(s3Options()));
objectStoreContract('Azure Blob (Azurite, connection string)', async () =>
  createAzureBlobStore({
    container: CONTAINER,
    prefix: freshPrefix(),
    connectionString: azurite.connectionString,
  }),
);
objectStoreContract('Azure Blob (Azurite, account URL + shared key)', async () =>
  createAzureBlobStore(sharedKeyOptions()),
);
objectStoreContract('Azure Blob (Azurite, account URL + SAS token)', async () =>
  createAzureBlobStore({
    container: CONTAINER,
    prefix: freshPrefix(),
    accountUrl: azurite.accountUrl,
    sasToken: sasToken(),
  }),
);

/** Behaviour both clouds share beyond the contract; `other` starts a server the test may stop. */
function cloudBehaviour(
  name: string,
  makeStore: (prefix: string) => ObjectStore,
  other: () => Promise<{ store: ObjectStore; stop(): Promise<void> }>,
): void {
  describe(`${name} store`, () => {
    it('refuses keys that would escape the prefix, in every method, and writes nothing', async () => {
      const store = makeStore(`jail/${randomBytes(6).toString('hex')}`);
      await store.write('inside.txt', text('ok'));
      for (const key of ['../escape.txt', '/etc/passwd', 'a/../../b.txt', '..']) {
        await rejectsWith(() => store.write(key, text('x')), 'INLET_E_UNSAFE_NAME');
        await rejectsWith(() => store.read(key), 'INLET_E_UNSAFE_NAME');
        await rejectsWith(() => store.stat(key), 'INLET_E_UNSAFE_NAME');
        await rejectsWith(() => store.delete(key), 'INLET_E_UNSAFE_NAME');
        await rejectsWith(() => store.move('inside.txt', key), 'INLET_E_UNSAFE_NAME');
        await rejectsWith(() => store.move(key, 'inside.txt'), 'INLET_E_UNSAFE_NAME');
        assert.throws(
          () => store.uri(key),
          (error: unknown) => (error as InletError).code === 'INLET_E_UNSAFE_NAME',
        );
      }
      await rejectsWith(() => store.list('../'), 'INLET_E_UNSAFE_NAME');
      const everything = makeStore('');
      assert.deepEqual(
        (await everything.list('')).map((o) => o.key).filter((key) => !key.startsWith('runs/')),
        [store.uri('inside.txt').replace(/^.*?\/(jail\/)/, '$1')],
        "nothing but the one good write outside the other tests' prefixes",
      );
      await store.close();
      await everything.close();
    });

    it('keeps an object moved onto its own key (a copy then delete must not lose it)', async () => {
      const store = makeStore(freshPrefix());
      await store.write('same.txt', text('kept'));
      await store.move('same.txt', 'same.txt');
      assert.equal((await buffer(await store.read('same.txt'))).toString(), 'kept');
      await store.close();
    });

    it('reads nothing when resuming at the very end of an object, like a file', async () => {
      const store = makeStore(freshPrefix());
      await store.write('done.csv', text('a,b\n'));
      assert.equal((await buffer(await store.read('done.csv', { start: 4 }))).length, 0);
      await store.close();
    });

    it('reports a stopped server, and a download cut off mid-way, as transient INLET_E_REMOTE', async () => {
      const { store, stop } = await other();
      try {
        const size = 24 * 1024 * 1024;
        await store.write('big.bin', Readable.from([randomBytes(size)]));
        const download = await store.read('big.bin');
        let received = 0;
        const error = await rejectsWith(async () => {
          for await (const chunk of download) {
            if (received === 0) await stop();
            received += chunk.length;
          }
        }, 'INLET_E_REMOTE');
        assert.ok(isTransient(error));
        assert.ok(received < size, `only part of the object arrived (${received} bytes)`);
        const refused = await rejectsWith(() => store.list(''), 'INLET_E_REMOTE');
        assert.equal(refused.kind, 'transient');
        await rejectsWith(() => store.write('after.txt', text('x')), 'INLET_E_REMOTE');
      } finally {
        await stop();
        await store.close();
      }
    });
  });
}

cloudBehaviour(
  'S3',
  (prefix) => createS3Store({ ...s3Options(), prefix }),
  async () => {
    const server = await startS3Server({ buckets: [BUCKET] });
    return { store: createS3Store(s3Options(server)), stop: server.stop };
  },
);
cloudBehaviour(
  'Azure Blob',
  (prefix) => createAzureBlobStore({ ...sharedKeyOptions(), prefix }),
  async () => {
    const server = await startAzurite();
    await BlobServiceClient.fromConnectionString(server.connectionString)
      .getContainerClient(CONTAINER)
      .create();
    return { store: createAzureBlobStore(sharedKeyOptions(server)), stop: server.stop };
  },
);

describe('S3 store specifics', () => {
  it('returns written metadata from stat, names objects by s3:// URI, and shows no secret in location', async () => {
    const options = s3Options();
    const store = createS3Store(options);
    await store.write('meta/a.csv', text('a\n'), { metadata: { Source: 'erp', batch_id: '42' } });
    const info = await store.stat('meta/a.csv');
    assert.deepEqual(info?.metadata, { source: 'erp', batch_id: '42' });
    assert.match(info?.etag ?? '', /^[0-9a-f]{32}$/, 'the ETag without its quotes');
    assert.equal(store.uri('meta/a.csv'), `s3://${BUCKET}/${options.prefix}/meta/a.csv`);
    assert.equal(store.location, `s3://${BUCKET}/${options.prefix} (${s3.endpoint})`);
    await store.close();
  });

  it('rejects unknown credentials with INLET_E_REMOTE_AUTH naming the bucket, never the secret', async () => {
    // s3rver checks that the access key id exists but does not verify SigV4 signatures, so a
    // wrong secret is accepted there; a wrong key id is the rejection it can produce.
    const secret = 'very-secret-value-123';
    const store = createS3Store({ ...s3Options(), accessKeyId: 'NOT-A-KEY', secretAccessKey: secret });
    for (const attempt of [() => store.list(''), () => store.read('x.csv'), () => store.stat('x.csv')]) {
      const error = await rejectsWith(attempt, 'INLET_E_REMOTE_AUTH', (m) => m.includes(BUCKET));
      assert.ok(!error.message.includes(secret) && !JSON.stringify(error.details).includes(secret));
    }
    await store.close();
  });

  it('maps what AWS answers for a wrong secret (SignatureDoesNotMatch) and for throttling (SlowDown)', async () => {
    // s3rver cannot produce either answer, so a loopback server replies with S3's own error
    // documents and the real SDK parses them.
    const secret = 'another-secret-456';
    const replies: Record<string, [number, string]> = {
      wrong: [403, 'SignatureDoesNotMatch'],
      busy: [503, 'SlowDown'],
    };
    const server = createServer((request, response) => {
      const [status, code] = replies[request.url?.split('/')[1] ?? ''] ?? [500, 'InternalError'];
      response.writeHead(status, { 'content-type': 'application/xml' });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>m</Message></Error>`,
      );
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const store = (bucket: string) =>
      createS3Store({ ...s3Options(), bucket, endpoint, accessKeyId: 'AKIA', secretAccessKey: secret });
    try {
      const denied = await rejectsWith(
        () => store('wrong').list(''),
        'INLET_E_REMOTE_AUTH',
        (m) => m.includes('wrong'),
      );
      assert.ok(!denied.message.includes(secret));
      const throttled = await rejectsWith(() => store('busy').read('a.csv'), 'INLET_E_REMOTE');
      assert.ok(isTransient(throttled));
    } finally {
      server.close();
    }
  });

  it('reports a missing bucket as INLET_E_REMOTE_REFUSED, also where S3 answers a bare 404', async () => {
    const store = createS3Store({ ...s3Options(), bucket: 'no-such-bucket' });
    const named = (m: string) => m.includes('no-such-bucket');
    await rejectsWith(() => store.list(''), 'INLET_E_REMOTE_REFUSED', named);
    await rejectsWith(() => store.read('a.csv'), 'INLET_E_REMOTE_REFUSED', named);
    await rejectsWith(() => store.write('a.csv', text('a')), 'INLET_E_REMOTE_REFUSED', named);
    // HeadObject cannot tell a missing bucket from a missing object; a stat must not say "no object".
    await rejectsWith(() => store.stat('a.csv'), 'INLET_E_REMOTE_REFUSED', named);
    await store.close();
  });
});

describe('Azure Blob store specifics', () => {
  it('returns written metadata from stat and list, and names blobs by azure:// URI', async () => {
    const options = sharedKeyOptions();
    const store = createAzureBlobStore(options);
    await store.write('meta/a.csv', text('a\n'), { metadata: { Source: 'erp', batch_id: '42' } });
    assert.deepEqual((await store.stat('meta/a.csv'))?.metadata, { source: 'erp', batch_id: '42' });
    assert.deepEqual(
      (await store.list('meta/')).map((o) => o.metadata),
      [{ source: 'erp', batch_id: '42' }],
    );
    await store.move('meta/a.csv', 'meta/b.csv');
    assert.deepEqual(
      (await store.stat('meta/b.csv'))?.metadata,
      { source: 'erp', batch_id: '42' },
      'kept by a move',
    );
    assert.equal(
      store.uri('meta/a.csv'),
      `azure://devstoreaccount1/${CONTAINER}/${options.prefix}/meta/a.csv`,
    );
    assert.equal(
      store.location,
      `azure://devstoreaccount1/${CONTAINER}/${options.prefix} (${azurite.accountUrl})`,
    );
    await store.close();
  });

  it('keeps the SAS token out of the location', async () => {
    const token = sasToken();
    const store = createAzureBlobStore({
      container: CONTAINER,
      prefix: '',
      accountUrl: azurite.accountUrl,
      sasToken: token,
    });
    assert.ok(!store.location.includes('sig='), store.location);
    assert.ok(!store.uri('a.csv').includes('sig='));
  });

  it('rejects a wrong account key with INLET_E_REMOTE_AUTH naming the container, never the key', async () => {
    const wrongKey = randomBytes(64).toString('base64');
    const store = createAzureBlobStore({ ...sharedKeyOptions(), accountKey: wrongKey });
    for (const attempt of [() => store.list(''), () => store.read('x.csv'), () => store.stat('x.csv')]) {
      const error = await rejectsWith(attempt, 'INLET_E_REMOTE_AUTH', (m) => m.includes(CONTAINER));
      assert.ok(!error.message.includes(wrongKey) && !JSON.stringify(error.details).includes(wrongKey));
    }
  });

  it('reports a missing container as INLET_E_REMOTE_REFUSED', async () => {
    const store = createAzureBlobStore({ ...sharedKeyOptions(), container: 'no-such-container' });
    const named = (m: string) => m.includes('no-such-container');
    await rejectsWith(() => store.list(''), 'INLET_E_REMOTE_REFUSED', named);
    await rejectsWith(() => store.read('a.csv'), 'INLET_E_REMOTE_REFUSED', named);
    await rejectsWith(() => store.write('a.csv', text('a')), 'INLET_E_REMOTE_REFUSED', named);
    await rejectsWith(() => store.stat('a.csv'), 'INLET_E_REMOTE_REFUSED', named);
  });

  it('refuses anything but one credential combination, naming the keys given', () => {
    const { accountUrl, accountName, accountKey, connectionString } = azurite;
    const invalid: Partial<AzureBlobStoreOptions>[] = [
      {},
      { accountUrl },
      { accountUrl, accountKey },
      { connectionString, accountUrl, sasToken: 'sv=x' },
      { accountUrl, accountName, accountKey, sasToken: 'sv=x' },
    ];
    for (const credentials of invalid) {
      assert.throws(
        () => createAzureBlobStore({ container: CONTAINER, prefix: '', ...credentials }),
        (error: unknown) =>
          error instanceof InletError &&
          error.code === 'INLET_E_JOB_INVALID' &&
          error.message.includes('account_url + account_name + account_key') &&
          Object.keys(credentials).every((name) =>
            error.message.includes(name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)),
          ) &&
          !error.message.includes(accountKey),
      );
    }
  });
});
