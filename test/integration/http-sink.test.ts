import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type MockCrm, startMockCrm } from '../../examples/crm/mock-crm.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { assertIdentity, inlet, runJob, tempDir } from '../helpers.ts';

interface Delivery {
  sent: number;
  succeeded: number;
  routed: Record<string, number>;
  failedByCode: Record<string, number>;
  calls: number;
  retries: number;
  replayedBatches: number;
}

/** The ADD_CUST job of seed 001: 8006 (customer exists) goes to UPD_CUST; 3217 and conflicts fail. */
function usersJob(name: string, { batch = 2, concurrency = 2, extra = '' } = {}): string {
  return `name: ${name}
source: { type: file, path: users.csv, format: { type: csv, header: true, infer_types: false } }
sink:
  type: http
  url: \${CRM}/api/ADD_CUST
  body: { wrap: records }
  per_record: "$.results[*]"
  auth:
    type: oauth2_client_credentials
    token_url: \${CRM}/oauth/token
    client_id: inlet
    client_secret: inlet-secret
  batch: { max_records: ${batch} }
  concurrency: ${concurrency}
  retry: { max_attempts: 10, initial_delay_ms: 5, max_delay_ms: 50 }
  circuit_breaker: { failures: 3, half_open_after_seconds: 0.3 }
  responses:
    - when: { body: { "$.code": 200 } }
      outcome: success
    - when: { body: { "$.code": 8006 } }
      outcome: route
      to: update
    - when: { body: { "$.code": 3217 } }
      outcome: fail
  routes:
    update:
      url: \${CRM}/api/UPD_CUST
      body: { wrap: records }
      per_record: "$.results[*]"
      responses:
        - when: { body: { "$.error": CONFLICTING_PROFILE } }
          outcome: fail
          code: "$.error"
${extra}`;
}

async function token(crm: MockCrm): Promise<string> {
  const response = await fetch(`${crm.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=inlet&client_secret=inlet-secret',
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function seed(crm: MockCrm, records: Record<string, string>[]): Promise<void> {
  const response = await fetch(`${crm.url}/api/ADD_CUST`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token(crm)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ records }),
  });
  assert.equal(response.status, 200);
}

function usersCsv(count: number, from = 1): string {
  const lines = ['customer_id,name,email'];
  for (let i = from; i < from + count; i++) lines.push(`u${i},User ${i},user${i}@example.com`);
  return `${lines.join('\n')}\n`;
}

describe('http sink against the mock CRM', () => {
  let crm: MockCrm;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    crm = await startMockCrm({ callsPerMinute: 0 });
    dir = tempDir();
    env = { CRM: crm.url, INLET_ALLOW_PRIVATE_NETWORKS: 'true' };
  });
  after(async () => crm?.stop());

  const run = (job: string, extraEnv: Record<string, string> = {}, args: string[] = []) =>
    runJob(join(dir, job), join(dir, 'data'), args, { ...env, ...extraEnv });

  it('follows every response rule: 200, 8006 → UPD_CUST, 3217 and a conflicting profile quarantined with their codes', async () => {
    crm.control({});
    await fetch(`${crm.url}/reset`, { method: 'POST' });
    await seed(crm, [
      { customer_id: 'c2', name: 'Bob', email: 'bob@example.com' },
      { customer_id: 'c5', name: 'Eve', email: 'eve@example.com' },
      { customer_id: 'c9', name: 'Ivy', email: 'taken@example.com' },
    ]);
    writeFileSync(
      join(dir, 'users.csv'),
      'customer_id,name,email\nc1,Ada,ada@example.com\nc2,Bob,bob.new@example.com\nc3,Cy,not-an-email\nc5,Eve,taken@example.com\n',
    );
    const events: { event: string; [key: string]: unknown }[] = [];
    const collector = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        events.push(JSON.parse(body));
        response.end('{}');
      });
    });
    await new Promise<void>((done) => collector.listen(0, '127.0.0.1', done));
    const { port } = collector.address() as AddressInfo;
    writeFileSync(
      join(dir, 'rules.yaml'),
      usersJob('rules', { extra: `reporting:\n  webhook:\n    url: http://127.0.0.1:${port}/events\n` }),
    );
    const result = await run('rules.yaml').finally(() => collector.close());
    assert.equal(result.status, 'succeeded', JSON.stringify(result));
    assertIdentity(result);
    assert.deepEqual(result.counts, { received: 4, written: 2, quarantined: 2, filtered: 0 });
    const delivery = (result.units[0] as { delivery?: Delivery }).delivery;
    assert.deepEqual(
      { ...delivery, calls: undefined },
      {
        sent: 4,
        succeeded: 1,
        routed: { update: 1 },
        failedByCode: { '3217': 1, CONFLICTING_PROFILE: 1 },
        calls: undefined,
        retries: 0,
        replayedBatches: 0,
      },
    );
    const bob = (await (await fetch(`${crm.url}/customers/c2`)).json()) as { email: string };
    assert.equal(bob.email, 'bob.new@example.com', 'the existing customer was updated through UPD_CUST');

    const quarantine = await inlet(['quarantine', result.run_id, '--json'], { dataDir: join(dir, 'data') });
    const { records: rows } = JSON.parse(quarantine.stdout) as {
      records: { line: number; rule: string; reason: string; record: string }[];
    };
    assert.deepEqual(
      rows.map((r) => [r.line, r.rule]),
      [
        [4, 'delivery:3217'],
        [5, 'delivery:CONFLICTING_PROFILE'],
      ],
    );
    assert.match(rows[0].reason, /invalid source data: email/);

    // The reconciliation report, from the CLI as JSON and CSV (the API serves the same).
    const reported = await inlet(['runs', 'report', result.run_id, '--json'], { dataDir: join(dir, 'data') });
    const report = JSON.parse(reported.stdout) as {
      identity_holds: boolean;
      totals: Record<string, unknown>;
    };
    assert.equal(report.identity_holds, true);
    assert.deepEqual(
      { ...report.totals, calls: undefined },
      {
        read: 4,
        quarantined_by_validation: 0,
        filtered: 0,
        sent: 4,
        succeeded: 1,
        updated_via: { update: 1 },
        failed_by_code: { '3217': 1, CONFLICTING_PROFILE: 1 },
        written: 2,
        calls: undefined,
        retries: 0,
      },
    );
    const csv = await inlet(['runs', 'report', result.run_id], { dataDir: join(dir, 'data') });
    const [header, file, total] = csv.stdout.trim().split('\n');
    assert.match(
      header,
      /^file,status,read,quarantined_by_validation,filtered,sent,succeeded,updated,failed_by_api,failed_by_code,written/,
    );
    assert.match(file, /users\.csv,committed,4,0,0,4,1,1,2,3217=1;CONFLICTING_PROFILE=1,2,/);
    assert.match(total, /^TOTAL,succeeded,4,0,0,4,1,1,2,/);

    // Every call is on record with the API's request id, status, latency and outcome.
    const store = new SqliteStore(join(dir, 'data', 'inlet.db'));
    const calls = await store.listHttpCalls(result.run_id).finally(() => store.close());
    assert.deepEqual(
      calls.map((c) => [c.endpoint.replace(crm.url, ''), c.status, c.records, c.outcome]).sort(),
      [
        ['/api/ADD_CUST', 200, 2, '1 fail:3217, 1 route:update'],
        ['/api/ADD_CUST', 200, 2, '1 success, 1 route:update'],
        ['/api/UPD_CUST', 200, 1, '1 fail:CONFLICTING_PROFILE'],
        ['/api/UPD_CUST', 200, 1, '1 success'],
      ],
    );
    assert.ok(calls.every((c) => /^[0-9a-f-]{36}$/.test(c.requestId ?? '') && c.latencyMs > 0));

    // Every file outcome and API response summary, and the run report, reached the webhook.
    assert.deepEqual(
      events.map((e) => e.event),
      ['file.outcome', 'api.responses', 'run.report'],
    );
    const responses = events[1].endpoints as {
      endpoint: string;
      calls: number;
      by_status: Record<string, number>;
    }[];
    assert.deepEqual(
      responses.map((r) => [r.endpoint.replace(crm.url, ''), r.by_status['200']]),
      [
        ['/api/ADD_CUST', 2],
        ['/api/UPD_CUST', 2],
      ],
    );
    assert.match(rows[1].reason, /conflicting profile/);
    assert.equal(JSON.parse(rows[0].record).customer_id, 'c3');
  });

  it('refuses a loopback API unless private networks are allowed', async () => {
    writeFileSync(join(dir, 'users.csv'), usersCsv(1, 500));
    writeFileSync(join(dir, 'private.yaml'), usersJob('private'));
    const result = await run('private.yaml', { INLET_ALLOW_PRIVATE_NETWORKS: 'false' });
    assert.equal(result.status, 'failed');
    assert.match(
      result.units[0].error ?? '',
      /resolves to a loopback address; set INLET_ALLOW_PRIVATE_NETWORKS=true/,
    );
  });

  it('retries 5xx answers and lost responses without applying any batch twice', async () => {
    await fetch(`${crm.url}/reset`, { method: 'POST' });
    crm.control({ failRate: 0.3, lostResponseRate: 0.3 });
    try {
      writeFileSync(join(dir, 'users.csv'), usersCsv(200));
      writeFileSync(join(dir, 'flaky.yaml'), usersJob('flaky', { batch: 10, concurrency: 4 }));
      const result = await run('flaky.yaml');
      assert.equal(result.status, 'succeeded', JSON.stringify(result.units));
      assert.equal(result.counts.written, 200);
      const stats = crm.stats();
      assert.equal(stats.customers, 200);
      assert.equal(stats.records.ADD_CUST['200'], 200, 'every customer created exactly once');
      assert.equal(stats.records.ADD_CUST['8006'], 0, 'no batch was applied a second time');
      assert.ok(stats.failed_injected > 0 && stats.lost_responses > 0, JSON.stringify(stats));
      assert.equal(
        stats.duplicate_deliveries,
        stats.lost_responses,
        'each lost response was retried with its key',
      );
      assert.ok((result.units[0] as { delivery?: Delivery }).delivery!.retries > 0);
    } finally {
      crm.control({ failRate: 0, lostResponseRate: 0 });
    }
  });

  it('holds the run while the circuit is open, probes, and delivers everything once the API recovers', async () => {
    await fetch(`${crm.url}/reset`, { method: 'POST' });
    crm.control({ failRate: 1 });
    // The API recovers only after the breaker had to open (its third failure) and a probe failed too.
    const recover = setInterval(() => {
      if (crm.stats().failed_injected >= 5) crm.control({ failRate: 0 });
    }, 20);
    try {
      writeFileSync(join(dir, 'users.csv'), usersCsv(20, 1000));
      writeFileSync(join(dir, 'breaker.yaml'), usersJob('breaker', { batch: 5, concurrency: 1 }));
      const result = await run('breaker.yaml');
      assert.equal(result.status, 'succeeded', JSON.stringify(result.units));
      assert.equal(result.counts.written, 20);
      const log = readFileSync(join(dir, 'data', 'logs', `${result.run_id}.ndjson`), 'utf8');
      assert.match(log, /"http\.circuit_open"/);
      assert.match(log, /"http\.circuit_closed"/);
      // Open, the breaker let only probes through: far fewer failed calls than attempts allowed.
      assert.ok(crm.stats().failed_injected < 15, JSON.stringify(crm.stats()));
    } finally {
      clearInterval(recover);
      crm.control({ failRate: 0 });
    }
  });

  it('resumes after kill -9 mid-file without sending acknowledged batches again', async () => {
    await fetch(`${crm.url}/reset`, { method: 'POST' });
    writeFileSync(join(dir, 'users.csv'), usersCsv(50, 2000));
    writeFileSync(join(dir, 'resume.yaml'), usersJob('resume', { batch: 10, concurrency: 1 }));
    const killed = await inlet(['run', join(dir, 'resume.yaml'), '--json'], {
      dataDir: join(dir, 'data'),
      env: { ...env, INLET_FAILPOINT: 'http.batch_delivered@3' },
    });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assert.equal(crm.stats().calls.ADD_CUST, 3);

    const resumed = await run('resume.yaml');
    assert.equal(resumed.status, 'succeeded');
    assert.equal(resumed.counts.written, 50);
    const delivery = (resumed.units[0] as { delivery?: Delivery }).delivery!;
    assert.equal(delivery.replayedBatches, 3);
    const stats = crm.stats();
    assert.equal(stats.calls.ADD_CUST, 5, 'five batches of ten, each sent once');
    assert.equal(stats.duplicate_deliveries, 0);
    assert.equal(stats.customers, 50);
  });

  it('quarantines ADD_TRX records the API finds incomplete (624) and retries a call that timed out', async () => {
    await fetch(`${crm.url}/reset`, { method: 'POST' });
    writeFileSync(
      join(dir, 'trx.csv'),
      'trx_id,customer_id,amount,currency,ts\nt1,c1,10.5,EUR,2026-11-01T10:00:00Z\nt2,c1,,EUR,2026-11-01T11:00:00Z\nt3,c2,7,EUR,2026-11-01T12:00:00Z\n',
    );
    writeFileSync(
      join(dir, 'trx.yaml'),
      `name: trx
source: { type: file, path: trx.csv, format: { type: csv, header: true, infer_types: false } }
sink:
  type: http
  url: \${CRM}/api/ADD_TRX
  body: { wrap: records }
  per_record: "$.results[*]"
  timeout_seconds: 0.5
  retry: { max_attempts: 5, initial_delay_ms: 5, max_delay_ms: 20 }
  auth:
    type: oauth2_client_credentials
    token_url: \${CRM}/oauth/token
    client_id: inlet
    client_secret: inlet-secret
  responses:
    - when: { body: { "$.code": 624 } }
      outcome: fail
`,
    );
    // The first call is held without an answer: the sink times out and sends it again.
    crm.control({ timeoutRate: 1 });
    const release = setInterval(() => {
      if (crm.stats().timeouts >= 1) crm.control({ timeoutRate: 0 });
    }, 20);
    const result = await run('trx.yaml').finally(() => clearInterval(release));
    assert.equal(result.status, 'succeeded', JSON.stringify(result.units));
    assert.deepEqual(result.counts, { received: 3, written: 2, quarantined: 1, filtered: 0 });
    const delivery = (result.units[0] as { delivery?: Delivery }).delivery!;
    assert.deepEqual(delivery.failedByCode, { '624': 1 });
    assert.ok(delivery.retries >= 1, 'the timed-out call was sent again');
    assert.ok(crm.stats().timeouts >= 1);
    assert.equal(crm.stats().transactions, 2);
  });

  it('waits out a 429 for as long as Retry-After says, then delivers', async () => {
    const arrivals: number[] = [];
    const api = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        arrivals.push(Date.now());
        if (arrivals.length === 1) {
          response.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
          response.end('{"code":429}');
        } else {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end('{"ok":true}');
        }
      });
    });
    await new Promise<void>((done) => api.listen(0, '127.0.0.1', done));
    try {
      writeFileSync(join(dir, 'users.csv'), usersCsv(3, 3000));
      writeFileSync(
        join(dir, 'throttled.yaml'),
        `name: throttled
source: { type: file, path: users.csv, format: { type: csv, header: true } }
sink:
  type: http
  url: http://127.0.0.1:${(api.address() as AddressInfo).port}/ingest
  retry: { max_attempts: 3, initial_delay_ms: 1, max_delay_ms: 1 }
`,
      );
      const result = await run('throttled.yaml');
      assert.equal(result.status, 'succeeded');
      assert.equal(result.counts.written, 3);
      assert.equal(arrivals.length, 2);
      assert.ok(
        arrivals[1] - arrivals[0] >= 1000,
        `retried after ${arrivals[1] - arrivals[0]} ms, not Retry-After`,
      );
    } finally {
      api.close();
    }
  });

  it('shares one rate limit between two runs of different jobs calling the same API', async () => {
    const arrivals: { at: number; job: string }[] = [];
    const api = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        arrivals.push({ at: Date.now(), job: String(request.headers['x-job']) });
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    await new Promise<void>((done) => api.listen(0, '127.0.0.1', done));
    try {
      const port = (api.address() as AddressInfo).port;
      writeFileSync(join(dir, 'many.csv'), usersCsv(10, 4000));
      for (const name of ['limited-a', 'limited-b']) {
        writeFileSync(
          join(dir, `${name}.yaml`),
          `name: ${name}
source: { type: file, path: many.csv, format: { type: csv, header: true } }
sink:
  type: http
  url: http://127.0.0.1:${port}/ingest
  headers: { X-Job: ${name} }
  batch: { max_records: 1 }
  concurrency: 4
  rate_limit: { calls_per_minute: 600 }
`,
        );
      }
      const [a, b] = await Promise.all([run('limited-a.yaml'), run('limited-b.yaml')]);
      assert.equal(a.counts.written + b.counts.written, 20);
      assert.equal(arrivals.length, 20);
      assert.ok(new Set(arrivals.map((x) => x.job)).size === 2);
      // 600 a minute is one call per 100 ms between both runs: no second holds more than 10
      // (+1 where a window's two ends both touch a call).
      const times = arrivals.map((x) => x.at).sort((p, q) => p - q);
      for (const [i, start] of times.entries()) {
        const inWindow = times.slice(i).filter((t) => t < start + 1000).length;
        assert.ok(inWindow <= 11, `${inWindow} calls within a second from ${i}`);
      }
      assert.ok(times.at(-1)! - times[0] >= 1800, 'twenty calls took at least 1.9 s at 600 a minute');
    } finally {
      api.close();
    }
  });
});
