import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { type MockCrm, type MockCrmStats, startMockCrm } from '../../examples/crm/mock-crm.ts';
import { createSftpStore } from '../../src/connectors/sftp/object-store.ts';
import type { ObjectStore } from '../../src/core/object-store.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { assertIdentity, inlet, ROOT, type RunJson, runJob, startService, tempDir } from '../helpers.ts';
import { type SftpServer, startSftpServer } from '../servers/sshd.ts';

/** The example as shipped: job files and sample data are used in place, never copied or edited. */
const EXAMPLE = join(ROOT, 'examples', 'crm');
const sample = (name: string) => readFileSync(join(EXAMPLE, 'sample', name));

type Unit = RunJson['units'][number] & {
  reason?: string;
  moved_to?: string | null;
  routed?: { kind: string | null; movedTo: string | null; job: string | null };
  delivery?: {
    sent: number;
    succeeded: number;
    routed: Record<string, number>;
    failedByCode: Record<string, number>;
    calls: number;
    retries: number;
    replayedBatches: number;
  };
};
type Run = Omit<RunJson, 'units'> & { units: Unit[]; code: number | null };

const fileName = (uri: string) => uri.slice(uri.lastIndexOf('/') + 1);

describe('example: the seed-001 CRM pipeline (examples/crm) against OpenSSH and the mock CRM', () => {
  let sftp: SftpServer;
  let crm: MockCrm;
  let server: ObjectStore;
  let dataDir: string;
  let env: Record<string, string>;
  /** sftp://127.0.0.1:<port><home>: where the server's files are, as units and moved_to name them. */
  let remote: string;

  before(async () => {
    [sftp, crm] = await Promise.all([startSftpServer(), startMockCrm()]);
    server = createSftpStore(
      { host: sftp.host, port: sftp.port, username: sftp.username, password: sftp.password, root: sftp.home },
      silentLogger(),
    );
    dataDir = join(tempDir('inlet-crm-example-'), 'data');
    remote = `sftp://127.0.0.1:${sftp.port}${sftp.home}`;
    env = {
      CRM_SFTP_HOST: sftp.host,
      CRM_SFTP_PORT: String(sftp.port),
      CRM_SFTP_USER: sftp.username,
      CRM_SFTP_PASSWORD: sftp.password,
      CRM_SFTP_HOST_KEY: sftp.hostKeyFingerprint,
      CRM_LANDING: `${sftp.home}/landing`,
      CRM_ARCHIVE: `${sftp.home}/archive`,
      CRM_FAILED: `${sftp.home}/failed`,
      CRM_URL: crm.url,
      CRM_CLIENT_ID: 'inlet',
      CRM_CLIENT_SECRET: 'inlet-secret',
      INLET_ALLOW_PRIVATE_NETWORKS: 'true',
    };
  });

  after(async () => {
    await server?.close();
    await Promise.all([sftp?.stop(), crm?.stop()]);
    if (dataDir) rmSync(dirname(dataDir), { recursive: true, force: true });
  });

  /** Uploads into the landing folder as a partner would; the file is dated a minute ago, so it has settled. */
  const upload = async (name: string, body: Buffer) => {
    await server.write(`landing/${name}`, Readable.from([body]));
    const aMinuteAgo = new Date(Date.now() - 60_000);
    utimesSync(join(sftp.home, 'landing', name), aMinuteAgo, aMinuteAgo);
  };
  const keys = async (prefix: string) => (await server.list(prefix)).map((o) => o.key);
  const run = async (job: string) => (await runJob(join(EXAMPLE, job), dataDir, [], env)) as Run;
  const quarantine = async (runId: string) => {
    const shown = await inlet(['quarantine', runId, '--json'], { dataDir });
    assert.equal(shown.code, 0, shown.stderr);
    const { records } = JSON.parse(shown.stdout) as {
      records: { unit: string; line: number; rule: string; reason: string; record: string }[];
    };
    return records;
  };
  const unitCounts = (result: Run) =>
    result.units.map((u) => [fileName(u.uri), u.status, u.received, u.written, u.quarantined, u.filtered]);
  const customer = async (id: string) =>
    (await (await fetch(`${crm.url}/customers/${id}`)).json()) as {
      name: string;
      email: string;
      country: string;
    };

  it('day 1: routes the landing zone, delivers users and transactions, quarantines validation and API refusals, archives', async () => {
    await upload('users_2026-11-01.csv', sample('users_2026-11-01.csv'));
    await upload('trx_2026-11-01.csv', sample('trx_2026-11-01.csv'));
    await upload('notes.txt', Buffer.from('not a data file\n'));

    const landing = await run('crm-landing.yaml');
    assert.equal(landing.status, 'succeeded', JSON.stringify(landing));
    assert.deepEqual(Object.fromEntries(landing.units.map((u) => [fileName(u.uri), [u.status, u.routed]])), {
      'notes.txt': ['committed', { kind: null, movedTo: `${remote}/landing/unknown/notes.txt`, job: null }],
      'trx_2026-11-01.csv': [
        'committed',
        {
          kind: 'transactions',
          movedTo: `${remote}/landing/transactions/trx_2026-11-01.csv`,
          job: 'crm-transactions',
        },
      ],
      'users_2026-11-01.csv': [
        'committed',
        { kind: 'users', movedTo: `${remote}/landing/users/users_2026-11-01.csv`, job: 'crm-users' },
      ],
    });

    const users = await run('crm-users.yaml');
    assert.equal(users.status, 'succeeded', JSON.stringify(users));
    assert.equal(users.code, 0);
    assertIdentity(users);
    assert.deepEqual(users.counts, { received: 20, written: 17, quarantined: 3, filtered: 0 });
    assert.deepEqual(unitCounts(users), [['users_2026-11-01.csv', 'committed', 20, 17, 3, 0]]);
    assert.deepEqual(users.units[0].delivery, {
      sent: 18,
      succeeded: 17,
      routed: {},
      failedByCode: { '3217': 1 },
      calls: 1,
      retries: 0,
      replayedBatches: 0,
    });
    assert.equal(users.units[0].moved_to, `${remote}/archive/users/users_2026-11-01.csv`);
    // Two rows stopped by validation before any call, one refused by the CRM.
    const rejectedUsers = await quarantine(users.run_id);
    assert.deepEqual(
      rejectedUsers.map((r) => [r.line, r.rule, JSON.parse(r.record).customer_id]),
      [
        [7, 'delivery:3217', 'C0006'],
        [10, 'required: name', 'C0009'],
        [15, 'rule: country IS NULL OR length(country) = 2', 'C0014'],
      ],
    );
    assert.match(rejectedUsers[0].reason, /invalid source data: email/);

    const trx = await run('crm-transactions.yaml');
    assert.equal(trx.status, 'succeeded', JSON.stringify(trx));
    assertIdentity(trx);
    assert.deepEqual(trx.counts, { received: 20, written: 18, quarantined: 2, filtered: 0 });
    assert.deepEqual(unitCounts(trx), [['trx_2026-11-01.csv', 'committed', 20, 18, 2, 0]]);
    assert.deepEqual(trx.units[0].delivery?.failedByCode, { '624': 1 });
    assert.equal(trx.units[0].moved_to, `${remote}/archive/transactions/trx_2026-11-01.csv`);
    const rejectedTrx = await quarantine(trx.run_id);
    assert.deepEqual(
      rejectedTrx.map((r) => [r.line, r.rule, JSON.parse(r.record).trx_id]),
      [
        [9, 'delivery:624', 'T20261101008'],
        [16, 'rule: amount > 0', 'T20261101015'],
      ],
    );
    assert.match(rejectedTrx[0].reason, /incomplete body parameters: amount/);

    const stats = crm.stats();
    assert.equal(stats.customers, 17);
    assert.equal(stats.transactions, 18);
    assert.deepEqual(stats.calls, { ADD_CUST: 1, UPD_CUST: 0, ADD_TRX: 1 });
    assert.deepEqual(stats.records, {
      ADD_CUST: { '200': 17, '8006': 0, '3217': 1 },
      UPD_CUST: { '200': 0, '409': 0, '3217': 0 },
      ADD_TRX: { '200': 18, '624': 1 },
    });
    assert.equal(stats.over_limit, 0);
    assert.equal(stats.duplicate_deliveries, 0);
    assert.equal(stats.unauthorized, 0);

    assert.deepEqual(await keys('landing/'), ['landing/unknown/notes.txt'], 'the landing folders are empty');
    assert.deepEqual(await keys('archive/'), [
      'archive/transactions/trx_2026-11-01.csv',
      'archive/users/users_2026-11-01.csv',
    ]);
    assert.ok(
      (await buffer(await server.read('archive/users/users_2026-11-01.csv'))).equals(
        sample('users_2026-11-01.csv'),
      ),
      'the archive is the file as uploaded',
    );
  });

  it('day 2: existing customers (8006) are updated through UPD_CUST; a conflicting profile is quarantined', async () => {
    await upload('users_2026-11-02.csv', sample('users_2026-11-02.csv'));
    const landing = await run('crm-landing.yaml');
    assert.deepEqual(
      landing.units.map((u) => [fileName(u.uri), u.status, u.routed?.kind]),
      [['users_2026-11-02.csv', 'committed', 'users']],
    );

    const users = await run('crm-users.yaml');
    assert.equal(users.status, 'succeeded', JSON.stringify(users));
    assertIdentity(users);
    assert.deepEqual(unitCounts(users), [['users_2026-11-02.csv', 'committed', 7, 6, 1, 0]]);
    assert.deepEqual(users.units[0].delivery, {
      sent: 7,
      succeeded: 3,
      routed: { update: 3 },
      failedByCode: { CONFLICTING_PROFILE: 1 },
      calls: 2,
      retries: 0,
      replayedBatches: 0,
    });
    const rejected = await quarantine(users.run_id);
    assert.deepEqual(
      rejected.map((r) => [r.line, r.rule, JSON.parse(r.record).customer_id]),
      [[6, 'delivery:CONFLICTING_PROFILE', 'C0005']],
    );
    assert.match(rejected[0].reason, /conflicting profile: email belongs to C0001/);

    assert.equal((await customer('C0003')).email, 'edsger.w.dijkstra@example.com');
    assert.equal((await customer('C0007')).country, 'GB');
    assert.equal((await customer('C0005')).email, 'donald.knuth@example.com', 'the conflict changed nothing');
    assert.equal((await customer('C0009')).name, 'Ken Thompson', "day 1's rejected row, fixed, is created");

    const stats = crm.stats();
    assert.equal(stats.customers, 20);
    assert.deepEqual(stats.calls, { ADD_CUST: 2, UPD_CUST: 1, ADD_TRX: 1 });
    assert.deepEqual(stats.records.ADD_CUST, { '200': 20, '8006': 4, '3217': 1 });
    assert.deepEqual(stats.records.UPD_CUST, { '200': 3, '409': 1, '3217': 0 });
    assert.equal(stats.over_limit, 0);
    assert.equal(stats.duplicate_deliveries, 0);
    assert.deepEqual(await keys('landing/users/'), []);
    assert.deepEqual(await keys('archive/users/'), [
      'archive/users/users_2026-11-01.csv',
      'archive/users/users_2026-11-02.csv',
    ]);
  });

  it('a re-uploaded users file is reported as a duplicate, archived as a new version, and not sent again', async () => {
    const earlier: MockCrmStats = crm.stats();
    await upload('users_2026-11-01.csv', sample('users_2026-11-01.csv'));

    // Routing goes by name and does not hash files: the users job is the one that knows the content.
    const landing = await run('crm-landing.yaml');
    assert.equal(landing.status, 'succeeded', JSON.stringify(landing));
    assert.deepEqual(
      landing.units.map((u) => [fileName(u.uri), u.status, u.routed?.movedTo]),
      [['users_2026-11-01.csv', 'committed', `${remote}/landing/users/users_2026-11-01.csv`]],
    );

    const users = await run('crm-users.yaml');
    assert.equal(users.status, 'succeeded', JSON.stringify(users));
    assert.deepEqual(users.counts, { received: 0, written: 0, quarantined: 0, filtered: 0 });
    assert.deepEqual(
      users.units.map((u) => [fileName(u.uri), u.status, u.reason, u.moved_to]),
      [['users_2026-11-01.csv', 'skipped', 'duplicate', `${remote}/archive/users/users_2026-11-01.v2.csv`]],
    );
    const shown = await inlet(['runs', 'show', users.run_id, '--json'], { dataDir });
    assert.match(shown.stdout, /duplicate of sftp:\/\/.*\/landing\/users\/users_2026-11-01\.csv/);

    assert.deepEqual(crm.stats(), earlier, 'nothing was sent to the CRM');
    assert.deepEqual(await keys('landing/users/'), []);
    assert.deepEqual(await keys('archive/users/'), [
      'archive/users/users_2026-11-01.csv',
      'archive/users/users_2026-11-01.v2.csv',
      'archive/users/users_2026-11-02.csv',
    ]);
  });

  it('a file that cannot be read is put aside in the failed folder with an error report', async () => {
    const earlier = crm.stats();
    const truncated = gzipSync(sample('users_2026-11-01.csv')).subarray(0, 60);
    await upload('users_2026-11-03.csv.gz', truncated);
    await run('crm-landing.yaml');
    const users = await run('crm-users.yaml');
    assert.equal(users.status, 'failed');
    assert.equal(users.code, 1);
    assert.deepEqual(
      users.units.map((u) => [fileName(u.uri), u.status, u.moved_to]),
      [['users_2026-11-03.csv.gz', 'failed', `${remote}/failed/users/users_2026-11-03.csv.gz`]],
    );
    assert.deepEqual(await keys('failed/'), [
      'failed/users/users_2026-11-03.csv.gz',
      'failed/users/users_2026-11-03.csv.gz.error.json',
    ]);
    const report = JSON.parse(
      (await buffer(await server.read('failed/users/users_2026-11-03.csv.gz.error.json'))).toString(),
    );
    assert.equal(report.job, 'crm-users');
    assert.equal(report.run_id, users.run_id);
    assert.match(report.error, /gzip|truncated|corrupt/i);
    assert.deepEqual(crm.stats(), earlier, 'nothing of it was sent');
    assert.deepEqual(await keys('landing/users/'), []);
  });

  it('a short CRM outage (503s) is ridden out by retries: every record is delivered once', async () => {
    const earlier = crm.stats();
    await upload(
      'transactions_2026-11-05.csv',
      Buffer.from(
        'trx_id,customer_id,amount,currency,ts\n' +
          'T8001,C0001,10.00,EUR,2026-11-05T09:00:00Z\n' +
          'T8002,C0002,20.00,USD,2026-11-05T09:01:00Z\n' +
          'T8003,C0003,30.00,GBP,2026-11-05T09:02:00Z\n',
      ),
    );
    await run('crm-landing.yaml');
    // The CRM answers 503 until it has refused two calls, then recovers.
    crm.control({ failRate: 1 });
    let running = true;
    const recover = (async () => {
      while (running && crm.stats().failed_injected < earlier.failed_injected + 2) await sleep(10);
      crm.control({ failRate: 0 });
    })();
    let trx: Run;
    try {
      trx = await run('crm-transactions.yaml');
    } finally {
      running = false;
      await recover;
    }
    assert.equal(trx.status, 'succeeded', JSON.stringify(trx));
    assert.deepEqual(unitCounts(trx), [['transactions_2026-11-05.csv', 'committed', 3, 3, 0, 0]]);
    assert.equal(trx.units[0].delivery?.retries, 2, JSON.stringify(trx.units[0].delivery));
    const stats = crm.stats();
    assert.equal(stats.failed_injected, earlier.failed_injected + 2, 'the CRM refused two calls');
    assert.equal(stats.transactions, earlier.transactions + 3);
    assert.equal(stats.records.ADD_TRX['200'], earlier.records.ADD_TRX['200'] + 3, 'each applied once');
    assert.equal(stats.duplicate_deliveries, 0);
  });

  it('inlet serve --jobs watches the landing zone: an upload is routed, delivered and archived by itself', async () => {
    const jobs = join(dirname(dataDir), 'jobs');
    for (const name of ['crm-landing', 'crm-users', 'crm-transactions']) {
      mkdirSync(join(jobs, name), { recursive: true });
      writeFileSync(join(jobs, name, 'job.yaml'), readFileSync(join(EXAMPLE, `${name}.yaml`)));
    }
    const earlier = crm.stats();
    const service = await startService(dataDir, {
      args: ['--jobs', jobs],
      env: { ...env, CRM_POLL: '1s' },
    });
    try {
      await upload(
        'transactions_2026-11-04.csv',
        Buffer.from('trx_id,customer_id,amount,currency,ts\nT9001,C0001,10.00,EUR,2026-11-04T09:00:00Z\n'),
      );
      let archived = null;
      for (let i = 0; i < 100 && !archived; i++) {
        await sleep(300);
        archived = await server.stat('archive/transactions/transactions_2026-11-04.csv');
      }
      assert.ok(archived, 'the watched upload was routed, delivered and archived');
      const stats = crm.stats();
      assert.equal(stats.transactions, earlier.transactions + 1);
      assert.equal(stats.calls.ADD_TRX, earlier.calls.ADD_TRX + 1);
      assert.equal(stats.over_limit, 0);
      assert.equal(stats.duplicate_deliveries, 0);
      assert.deepEqual(await keys('landing/transactions/'), []);
    } finally {
      await service.stop();
    }
  });
});
