import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createS3Store } from '../../src/connectors/s3/object-store.ts';
import { createSftpStore } from '../../src/connectors/sftp/object-store.ts';
import type { ObjectStore } from '../../src/core/object-store.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { assertIdentity, inlet, query, runJob, startService, tempDir } from '../helpers.ts';
import { type S3Server, startS3Server } from '../servers/s3rver.ts';
import { type SftpServer, startSftpServer } from '../servers/sshd.ts';

const USERS =
  'id,name,email\n1,Ada,ada@example.com\n2,Grace,grace@example.com\n3,Edsger,edsger@example.com\n';
const TRX = 'id,user_id,amount\n10,1,9.99\n11,2,120.00\n';

describe('SFTP landing zone', () => {
  let sftp: SftpServer;
  let s3: S3Server;
  let server: ObjectStore;
  let archive: ObjectStore;
  let dir: string;
  const key = randomBytes(32).toString('base64');
  let env: Record<string, string>;

  before(async () => {
    [sftp, s3] = await Promise.all([startSftpServer(), startS3Server({ buckets: ['archive'] })]);
    server = createSftpStore(
      { host: sftp.host, port: sftp.port, username: sftp.username, password: sftp.password, root: sftp.home },
      silentLogger(),
    );
    archive = createS3Store({
      bucket: 'archive',
      prefix: '',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    });
    dir = tempDir();
    env = {
      SFTP_PORT: String(sftp.port),
      SFTP_USER: sftp.username,
      SFTP_PASSWORD: sftp.password,
      SFTP_HOST_KEY: sftp.hostKeyFingerprint,
      HOME_DIR: sftp.home,
      S3_ENDPOINT: s3.endpoint,
      INLET_ENCRYPTION_KEY: key,
    };
    const connection = `
  type: sftp
  host: 127.0.0.1
  port: \${SFTP_PORT}
  username: \${SFTP_USER}
  password: \${SFTP_PASSWORD}
  host_key: \${SFTP_HOST_KEY}
  settle_seconds: 0`;
    writeFileSync(
      join(dir, 'landing.yaml'),
      `name: landing
source:${connection}
  path: \${HOME_DIR}/landing
  pattern: "*"
  format: { type: csv }
segregate:
  rules:
    - name: users
      match: { pattern: "users_*", extension: [csv, csv.gz] }
      move_to: \${HOME_DIR}/users
      job: users
    - name: transactions
      match: { pattern: "trx_*.csv", min_size: 1 }
      move_to: \${HOME_DIR}/transactions
      job: transactions
`,
    );
    writeFileSync(
      join(dir, 'users.yaml'),
      `name: users
source:${connection}
  path: \${HOME_DIR}/users
  pattern: "*.csv*"
  format: { type: csv, header: true }
sink: { type: file, path: out/users, format: parquet }
on_success:
  archive:
    path: users/
    store:
      type: s3
      bucket: archive
      endpoint: \${S3_ENDPOINT}
      force_path_style: true
      access_key_id: S3RVER
      secret_access_key: S3RVER
    compress: true
    encrypt: true
on_failure:
  move_to: { path: "\${HOME_DIR}/failed" }
`,
    );
  });

  after(async () => {
    await server?.close();
    await archive?.close();
    await Promise.all([sftp?.stop(), s3?.stop()]);
  });

  const upload = (key: string, body: string | Buffer) =>
    server.write(key, Readable.from([Buffer.from(body)]));
  const keys = async (prefix: string) => (await server.list(prefix)).map((o) => o.key);
  const run = (job: string) => runJob(join(dir, job), join(dir, 'data'), [], env);

  it('segregates by name, ingests each kind, archives the original to S3 encrypted, and decrypts to the same bytes', async () => {
    await upload('landing/users_2026-11-01.csv', USERS);
    await upload('landing/trx_2026-11-01.csv', TRX);
    await upload('landing/readme.txt', 'not data');

    const routed = await run('landing.yaml');
    assert.equal(routed.status, 'succeeded');
    const byFile = Object.fromEntries(
      routed.units.map((u) => [u.uri.slice(u.uri.lastIndexOf('/') + 1), (u as { routed?: unknown }).routed]),
    );
    assert.deepEqual(byFile['users_2026-11-01.csv'], {
      kind: 'users',
      movedTo: `sftp://127.0.0.1:${sftp.port}${sftp.home}/users/users_2026-11-01.csv`,
      job: 'users',
    });
    assert.equal((byFile['trx_2026-11-01.csv'] as { kind: string }).kind, 'transactions');
    assert.deepEqual(byFile['readme.txt'], { kind: null, movedTo: null, job: null });
    assert.deepEqual(await keys('landing/'), ['landing/readme.txt']);
    assert.deepEqual(await keys('transactions/'), ['transactions/trx_2026-11-01.csv']);

    const users = await run('users.yaml');
    assert.equal(users.status, 'succeeded');
    assertIdentity(users);
    assert.equal(users.counts.written, 3);
    const [unit] = users.units as ((typeof users.units)[number] & { moved_to?: string })[];
    assert.equal(unit.moved_to, 's3://archive/users/users_2026-11-01.csv.gz.enc');
    assert.deepEqual(await keys('users/'), [], 'the original left the landing zone');
    const rows = await query<{ n: number }>(
      `SELECT count(*)::INT AS n FROM '${join(dir, 'out/users')}/*.parquet'`,
    );
    assert.equal(rows[0].n, 3);

    // Read the archive back from S3 as an auditor would, then decrypt it with the CLI.
    const sealed = await buffer(await archive.read('users/users_2026-11-01.csv.gz.enc'));
    assert.ok(!sealed.includes(Buffer.from('grace@example.com')));
    assert.ok(!gunzipSafe(sealed), 'the archive is not readable without the key');
    writeFileSync(join(dir, 'archived.csv.gz.enc'), sealed);
    const decrypted = await inlet(['decrypt', join(dir, 'archived.csv.gz.enc')], {
      dataDir: join(dir, 'data'),
      env: { INLET_ENCRYPTION_KEY: key },
    });
    assert.equal(decrypted.code, 0, decrypted.stderr);
    assert.equal(gunzipSync(readFileSync(join(dir, 'archived.csv.gz'))).toString(), USERS);
    const meta = await archive.stat('users/users_2026-11-01.csv.gz.enc');
    assert.equal(meta?.metadata['inlet-run-id'], users.run_id);

    const wrongKey = await inlet(['decrypt', join(dir, 'archived.csv.gz.enc'), '-o', join(dir, 'x')], {
      dataDir: join(dir, 'data'),
      env: { INLET_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
    });
    assert.equal(wrongKey.code, 2);
    assert.match(wrongKey.stderr, /encrypted with key [0-9a-f]{12}.*INLET_E_ENCRYPTION/);
  });

  it('reports a re-uploaded identical file as a duplicate and never ingests it twice', async () => {
    await upload('landing/users_2026-11-01.csv', USERS);
    await run('landing.yaml');
    const again = await run('users.yaml');
    assert.equal(again.status, 'succeeded');
    assert.equal(again.counts.received, 0);
    const [unit] = again.units as ((typeof again.units)[number] & { reason?: string; moved_to?: string })[];
    assert.equal(unit.status, 'skipped');
    assert.equal(unit.reason, 'duplicate');
    // Moved out of the landing zone as a second archive version; the first is untouched.
    assert.equal(unit.moved_to, 's3://archive/users/users_2026-11-01.v2.csv.gz.enc');
    assert.ok(await archive.stat('users/users_2026-11-01.csv.gz.enc'));
    const rows = await query<{ n: number }>(
      `SELECT count(*)::INT AS n FROM '${join(dir, 'out/users')}/*.parquet'`,
    );
    assert.equal(rows[0].n, 3);
    const shown = await inlet(['runs', 'show', again.run_id, '--json'], { dataDir: join(dir, 'data') });
    assert.match(shown.stdout, /duplicate of sftp:\/\/.*users_2026-11-01\.csv/);
  });

  it('puts a file that fails aside with an error report, and leaves the rest of the run alone', async () => {
    const truncated = gzipSync(Buffer.from(USERS.replaceAll('example', 'example2'))).subarray(0, 40);
    await upload('users/users_broken.csv.gz', truncated);
    await upload('users/users_2026-11-02.csv', USERS.replace('1,Ada', '4,Ada'));
    const result = await run('users.yaml');
    assert.equal(result.status, 'failed');
    const broken = result.units.find((u) => u.uri.endsWith('users_broken.csv.gz')) as
      | ((typeof result.units)[number] & { moved_to?: string })
      | undefined;
    assert.equal(broken?.status, 'failed');
    assert.equal(broken?.moved_to, `sftp://127.0.0.1:${sftp.port}${sftp.home}/failed/users_broken.csv.gz`);
    assert.deepEqual(await keys('failed/'), [
      'failed/users_broken.csv.gz',
      'failed/users_broken.csv.gz.error.json',
    ]);
    const report = JSON.parse(
      (await buffer(await server.read('failed/users_broken.csv.gz.error.json'))).toString(),
    );
    assert.equal(report.job, 'users');
    assert.equal(report.run_id, result.run_id);
    assert.match(report.error, /truncated|corrupt|gzip/i);
    assert.ok((await buffer(await server.read('failed/users_broken.csv.gz'))).equals(truncated));
    const good = result.units.find((u) => u.uri.endsWith('users_2026-11-02.csv'));
    assert.equal(good?.status, 'committed');
    assert.deepEqual(await keys('users/'), []);
  });

  it('holds back a file that is still growing until it settles', async () => {
    const job = join(dir, 'settle.yaml');
    writeFileSync(
      job,
      readFileSync(join(dir, 'users.yaml'), 'utf8')
        .replace('name: users', 'name: settle')
        .replace('settle_seconds: 0', 'settle_seconds: 2')
        .replace('${HOME_DIR}/users', '${HOME_DIR}/settle')
        .replace('out/users', 'out/settle'),
    );
    await upload('settle/done.csv', USERS);
    await upload('settle/growing.csv', 'id,name,email\n');
    // An upload in progress: the file grows on the server's disk while the job polls.
    const growing = join(sftp.home, 'settle', 'growing.csv');
    let n = 100;
    const writer = setInterval(() => appendFileSync(growing, `${n++},Name,x@example.com\n`), 200);
    let first: Awaited<ReturnType<typeof run>>;
    try {
      first = await run('settle.yaml');
    } finally {
      clearInterval(writer);
    }
    assert.equal(first.status, 'succeeded');
    assert.deepEqual(
      first.units.map((u) => u.uri.slice(u.uri.lastIndexOf('/') + 1)),
      ['done.csv'],
      'the growing file was not taken',
    );
    const lines = readFileSync(growing, 'utf8').trim().split('\n').length - 1;
    await sleep(2100);
    const second = await run('settle.yaml');
    assert.equal(second.units.length, 1);
    assert.equal(second.units[0].status, 'committed');
    assert.equal(second.counts.written, lines, 'every line written before it settled');
  });

  it('expires old archives to a colder folder with inlet housekeep', async () => {
    const job = join(dir, 'cold.yaml');
    writeFileSync(
      job,
      `name: cold
source:
  type: sftp
  host: 127.0.0.1
  port: \${SFTP_PORT}
  username: \${SFTP_USER}
  password: \${SFTP_PASSWORD}
  settle_seconds: 0
  path: \${HOME_DIR}/cold-in
  format: { type: csv, header: true }
sink: { type: file, path: out/cold }
on_success:
  archive:
    path: \${HOME_DIR}/archive/cold
    lifecycle: { after_days: 30, move_to: "\${HOME_DIR}/glacier/cold" }
`,
    );
    await upload('cold-in/old.csv', USERS);
    await upload('cold-in/new.csv', TRX.replace('id,user_id,amount', 'id,name,email'));
    const result = await run('cold.yaml');
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(await keys('archive/cold/'), ['archive/cold/new.csv', 'archive/cold/old.csv']);
    const longAgo = new Date(Date.now() - 40 * 86_400_000);
    utimesSync(join(sftp.home, 'archive/cold/old.csv'), longAgo, longAgo);
    const housekeep = await inlet(['housekeep', job], { dataDir: join(dir, 'data'), env });
    assert.equal(housekeep.code, 0, housekeep.stderr);
    assert.match(housekeep.stdout, /1 archive\(s\) expired/);
    assert.deepEqual(await keys('archive/cold/'), ['archive/cold/new.csv']);
    assert.deepEqual(await keys('glacier/'), ['glacier/cold/old.csv']);
  });

  it('watches the landing zone in inlet serve: a new upload is routed and ingested without anyone asking', async () => {
    const jobs = join(dir, 'service-jobs');
    for (const name of ['landing', 'users']) {
      mkdirSync(join(jobs, name), { recursive: true });
      let text = readFileSync(join(dir, `${name}.yaml`), 'utf8')
        .replace(`name: ${name}`, `name: ${name}`)
        .replaceAll('out/users', join(dir, 'out/served'));
      if (name === 'landing') text += 'trigger: { watch: { interval: 1s } }\n';
      writeFileSync(join(jobs, name, 'job.yaml'), text);
    }
    const service = await startService(join(dir, 'served-data'), { args: ['--jobs', jobs], env });
    try {
      await upload('landing/users_2026-11-03.csv', USERS.replace('1,Ada', '7,Ada'));
      let archived = null;
      for (let i = 0; i < 100 && !archived; i++) {
        await sleep(300);
        archived = await archive.stat('users/users_2026-11-03.csv.gz.enc');
      }
      assert.ok(archived, 'the watched upload was routed, ingested and archived');
      const rows = await query<{ n: number }>(
        `SELECT count(*)::INT AS n FROM '${join(dir, 'out/served')}/*.parquet'`,
      );
      assert.equal(rows[0].n, 3);
    } finally {
      await service.stop();
    }
  });
});

function gunzipSafe(data: Buffer): Buffer | null {
  try {
    return gunzipSync(data);
  } catch {
    return null;
  }
}
