import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { createAzureBlobStore } from '../../src/connectors/azure-blob/object-store.ts';
import { createS3Store } from '../../src/connectors/s3/object-store.ts';
import { createSftpStore } from '../../src/connectors/sftp/object-store.ts';
import type { ObjectStore } from '../../src/core/object-store.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { assertIdentity, inlet, query, runJob, tempDir } from '../helpers.ts';
import { type AzuriteServer, startAzurite } from '../servers/azurite.ts';
import { type S3Server, startS3Server } from '../servers/s3rver.ts';
import { type SftpServer, startSftpServer } from '../servers/sshd.ts';

const SALES = `id,region,amount
1,EU,10.5
2,US,20
3,EU,7.25
4,APAC,99
5,US,1
`;

/** Downloads every object under prefix into a folder, keeping the key layout, for DuckDB to read. */
async function download(store: ObjectStore, prefix: string, folder: string): Promise<string[]> {
  const keys: string[] = [];
  for (const object of await store.list(prefix)) {
    const path = join(folder, object.key);
    mkdirSync(join(path, '..'), { recursive: true });
    const chunks: Buffer[] = [];
    for await (const chunk of await store.read(object.key)) chunks.push(chunk as Buffer);
    writeFileSync(path, Buffer.concat(chunks));
    keys.push(object.key);
  }
  return keys;
}

describe('jobs on object stores', () => {
  let s3: S3Server;
  let azurite: AzuriteServer;
  let sftp: SftpServer;
  let lake: ObjectStore;
  let blobs: ObjectStore;
  let server: ObjectStore;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    [s3, azurite, sftp] = await Promise.all([
      startS3Server({ buckets: ['lake'] }),
      startAzurite(),
      startSftpServer(),
    ]);
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient('lake').create();
    await service.getContainerClient('landing').create();
    lake = createS3Store({
      bucket: 'lake',
      prefix: '',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    });
    blobs = createAzureBlobStore({
      container: 'lake',
      prefix: '',
      connectionString: azurite.connectionString,
    });
    server = createSftpStore(
      { host: sftp.host, port: sftp.port, username: sftp.username, password: sftp.password, root: sftp.home },
      silentLogger(),
    );
    dir = tempDir();
    writeFileSync(join(dir, 'sales.csv'), SALES);
    env = {
      S3_ENDPOINT: s3.endpoint,
      AZURE: azurite.connectionString,
      SFTP_PORT: String(sftp.port),
      SFTP_USER: sftp.username,
      SFTP_PASSWORD: sftp.password,
      HOME_DIR: sftp.home,
    };
  });

  after(async () => {
    await Promise.all([lake?.close(), blobs?.close(), server?.close()]);
    await Promise.all([s3?.stop(), azurite?.stop(), sftp?.stop()]);
  });

  const s3Keys = `
    bucket: lake
    endpoint: \${S3_ENDPOINT}
    force_path_style: true
    access_key_id: S3RVER
    secret_access_key: S3RVER`;

  it('delivers to S3 (partitioned Parquet), Azure Blob (NDJSON) and SFTP (CSV), leaving no staged objects', async () => {
    const job = join(dir, 'deliver.yaml');
    writeFileSync(
      job,
      `name: deliver
source: { type: file, path: sales.csv, format: { type: csv, header: true } }
sinks:
  - type: s3${s3Keys}
    prefix: sales/
    partition_by: [region]
  - type: azure_blob
    connection_string: \${AZURE}
    container: lake
    prefix: sales
    format: ndjson
  - type: sftp
    host: 127.0.0.1
    port: \${SFTP_PORT}
    username: \${SFTP_USER}
    password: \${SFTP_PASSWORD}
    path: \${HOME_DIR}/exports
    format: csv
`,
    );
    const result = await runJob(job, join(dir, 'data'), [], env);
    assert.equal(result.status, 'succeeded');
    assertIdentity(result);
    assert.equal(result.counts.written, 5);

    const fromS3 = await download(lake, 'sales/', join(dir, 's3'));
    assert.ok(
      fromS3.every((key) => !key.includes('.inlet-tmp')),
      fromS3.join(),
    );
    assert.deepEqual([...new Set(fromS3.map((key) => key.split('/')[1]))].sort(), [
      'region=APAC',
      'region=EU',
      'region=US',
    ]);
    const s3Rows = await query<{ region: string; n: number }>(
      `SELECT region, count(*)::INT AS n FROM read_parquet('${join(dir, 's3/sales')}/*/*.parquet', hive_partitioning = true) GROUP BY region ORDER BY region`,
    );
    assert.deepEqual(s3Rows, [
      { region: 'APAC', n: 1 },
      { region: 'EU', n: 2 },
      { region: 'US', n: 2 },
    ]);

    const fromAzure = await download(blobs, 'sales/', join(dir, 'az'));
    assert.equal(fromAzure.length, 1);
    assert.match(fromAzure[0], /^sales\/part-.*\.json$/);
    const azureRows = await query<{ total: number }>(
      `SELECT sum(amount)::DOUBLE AS total FROM read_json('${join(dir, 'az', fromAzure[0])}')`,
    );
    assert.equal(azureRows[0].total, 137.75);

    const fromSftp = await server.list('exports/');
    assert.equal(fromSftp.length, 1);
    const csvRows = await query<{ n: number }>(
      `SELECT count(*)::INT AS n FROM read_csv('${join(sftp.home, fromSftp[0].key)}')`,
    );
    assert.equal(csvRows[0].n, 5);
  });

  it('rolls a commit to S3 forward after kill -9, delivering every row exactly once', async () => {
    const job = join(dir, 'crash.yaml');
    writeFileSync(
      job,
      `name: crash-s3
source: { type: file, path: sales.csv, format: { type: csv, header: true } }
sink:
  type: s3${s3Keys.replaceAll('\n    ', '\n  ')}
  prefix: crash/
`,
    );
    const killed = await inlet(['run', job, '--json'], {
      dataDir: join(dir, 'data'),
      env: { ...env, INLET_FAILPOINT: 'unit.committing' },
    });
    assert.equal(killed.signal, 'SIGKILL', `${killed.code}: ${killed.stderr}${killed.stdout}`);
    const staged = await lake.list('crash/');
    assert.ok(
      staged.length > 0 && staged.every((o) => o.key.startsWith('crash/.inlet-tmp/')),
      'only staged objects',
    );

    const resumed = await runJob(job, join(dir, 'data'), [], env);
    assert.equal(resumed.status, 'succeeded');
    const keys = await download(lake, 'crash/', join(dir, 'crash'));
    assert.equal(keys.length, 1, keys.join());
    const rows = await query<{ n: number }>(
      `SELECT count(*)::INT AS n FROM '${join(dir, 'crash', keys[0])}'`,
    );
    assert.equal(rows[0].n, 5);
  });

  it('reads blobs from Azure, routing them by their metadata first', async () => {
    const landing = createAzureBlobStore({
      container: 'landing',
      prefix: '',
      connectionString: azurite.connectionString,
    });
    try {
      await landing.write('in/batch-1.csv', Readable.from([Buffer.from(SALES)]), {
        metadata: { kind: 'sales' },
      });
      await landing.write('in/batch-2.csv', Readable.from([Buffer.from('x\n1\n')]), {
        metadata: { kind: 'other' },
      });
      writeFileSync(
        join(dir, 'route.yaml'),
        `name: route-blobs
source:
  type: azure_blob
  connection_string: \${AZURE}
  container: landing
  prefix: in/
  settle_seconds: 0
  format: { type: csv }
segregate:
  rules:
    - name: sales
      match: { metadata: { kind: sales } }
      move_to: sales/
`,
      );
      const routed = await runJob(join(dir, 'route.yaml'), join(dir, 'data'), [], env);
      assert.equal(routed.status, 'succeeded');
      assert.deepEqual(
        (await landing.list('')).map((o) => o.key),
        ['in/batch-2.csv', 'sales/batch-1.csv'],
      );
      writeFileSync(
        join(dir, 'blobs.yaml'),
        `name: read-blobs
source:
  type: azure_blob
  connection_string: \${AZURE}
  container: landing
  prefix: sales/
  settle_seconds: 0
  format: { type: csv, header: true }
sink: { type: file, path: out/blobs }
`,
      );
      const result = await runJob(join(dir, 'blobs.yaml'), join(dir, 'data'), [], env);
      assert.equal(result.status, 'succeeded');
      assert.equal(result.units[0].uri, 'azure://devstoreaccount1/landing/sales/batch-1.csv');
      const rows = await query<{ n: number }>(
        `SELECT count(*)::INT AS n FROM '${join(dir, 'out/blobs')}/*.parquet'`,
      );
      assert.equal(rows[0].n, 5);
    } finally {
      await landing.close();
    }
  });

  it('refuses an object name that would escape its folder, and still takes the others', async () => {
    await lake.write('drop/good.csv', Readable.from([Buffer.from(SALES)]));
    await lake.write('drop/ok.csv', Readable.from([Buffer.from(SALES.replace('5,US,1', '6,US,2'))]));
    // S3 keys are free text; s3rver keeps this one as it is, as AWS would.
    const evil = 'drop/..\\..\\..\\evil.csv';
    const raw = await import('@aws-sdk/client-s3');
    const client = new raw.S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await client.send(new raw.PutObjectCommand({ Bucket: 'lake', Key: evil, Body: SALES }));
    client.destroy();
    writeFileSync(
      join(dir, 'drop.yaml'),
      `name: drop
source:
  type: s3${s3Keys.replaceAll('\n    ', '\n  ')}
  prefix: drop/
  settle_seconds: 0
  format: { type: csv, header: true }
sink: { type: file, path: out/drop }
`,
    );
    const result = await runJob(join(dir, 'drop.yaml'), join(dir, 'data'), [], env);
    assert.equal(result.status, 'failed');
    const refused = result.units.find((u) => u.uri.includes('evil.csv'));
    assert.equal(refused?.status, 'failed');
    assert.match(refused?.error ?? '', /refused the object name .*would escape its folder/);
    assert.deepEqual(
      result.units.filter((u) => u.status === 'committed').map((u) => u.uri),
      ['s3://lake/drop/good.csv', 's3://lake/drop/ok.csv'],
    );
  });

  it('refuses job files whose remote-file options contradict each other, naming the key', async () => {
    const job = join(dir, 'contradict.yaml');
    writeFileSync(
      job,
      `name: contradict
source: { type: file, path: sales.csv, format: { type: csv } }
sink: { type: file, path: out/c, mode: overwrite }
on_success:
  archive: { path: archive }
`,
    );
    const overwrite = await inlet(['validate', job], { dataDir: join(dir, 'data') });
    assert.equal(overwrite.code, 2);
    assert.match(overwrite.stderr, /on_success\.archive .*mode: overwrite would drop their rows/);

    writeFileSync(
      job,
      `name: contradict
source: { type: sftp, host: h, username: u, password: p, path: /in, format: { type: csv } }
sink: { type: file, path: out/c }
segregate:
  rules: [{ name: all, match: {}, move_to: /all }]
`,
    );
    const routed = await inlet(['validate', job], { dataDir: join(dir, 'data') });
    assert.equal(routed.code, 2);
    assert.match(routed.stderr, /segregate .*no transforms or sinks/);
  });

  it('names an SFTP source folder that does not exist instead of reporting no files', async () => {
    const job = join(dir, 'typo.yaml');
    writeFileSync(
      job,
      `name: typo
source:
  type: sftp
  host: 127.0.0.1
  port: \${SFTP_PORT}
  username: \${SFTP_USER}
  password: \${SFTP_PASSWORD}
  path: \${HOME_DIR}/landnig
  format: { type: csv }
sink: { type: file, path: out/typo }
`,
    );
    const result = await inlet(['run', job], { dataDir: join(dir, 'data'), env });
    assert.equal(result.code, 2, 'a job problem, like a missing local folder');
    assert.match(
      result.stderr,
      /the source folder sftp:\/\/127\.0\.0\.1:\d+\/.*\/landnig\/? does not exist \[INLET_E_SOURCE_NOT_FOUND\]/,
    );
  });
});
