import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import { hashKey } from '../../src/api/auth.ts';
import { RunLauncher } from '../../src/api/run-launcher.ts';
import { SecretBox } from '../../src/engine/secret-box.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { InletMetrics } from '../../src/observability/metrics.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Role } from '../../src/store/store.ts';
import { freePort, query, ROOT, startService, tempDir } from '../helpers.ts';

const secrets = new SecretBox(randomBytes(32));
const KEYS: Record<Role, string> = {
  admin: 'admin-key-123',
  operator: 'operator-key-123',
  viewer: 'viewer-key-123',
};
const bearer = (role: Role) => ({ authorization: `Bearer ${KEYS[role]}` });

const JOB_YAML = `name: api-events
source:
  type: file
  path: data/events.ndjson
  format: { type: ndjson }
transforms:
  - filter: "environment = 'production'"
  - validate:
      required: [user_id]
sink: { type: file, path: output/events, format: csv }
`;

describe('REST API, in process', () => {
  let app: FastifyInstance;
  let store: SqliteStore;
  let launcher: RunLauncher;
  const metrics = new InletMetrics();
  const workspace = tempDir('inlet-api-');

  before(async () => {
    cpSync(join(ROOT, 'examples', 'ndjson-to-csv', 'data'), join(workspace, 'data'), { recursive: true });
    store = new SqliteStore(join(workspace, '.inlet', 'inlet.db'));
    for (const role of Object.keys(KEYS) as Role[]) {
      await store.createApiKey({
        keyId: randomUUID(),
        name: `${role} key`,
        role,
        createdAt: new Date().toISOString(),
        keyHash: hashKey(KEYS[role]),
      });
    }
    launcher = new RunLauncher({
      store,
      dataDir: join(workspace, '.inlet'),
      workspace,
      memoryLimit: '256MB',
      logger: silentLogger(),
      logLevel: 'silent',
      secrets,
      metrics,
    });
    app = await buildApp({
      store,
      secrets,
      launcher,
      metrics,
      dataDir: join(workspace, '.inlet'),
      logger: silentLogger(),
    });
  });
  after(async () => {
    await launcher.shutdown();
    await app.close();
    await store.close();
  });

  const finished = async (runId: string) => {
    for (let i = 0; i < 200; i++) {
      const run = (await app.inject({ url: `/runs/${runId}`, headers: bearer('viewer') })).json();
      if (run.status !== 'running') return run;
      await sleep(50);
    }
    assert.fail(`run ${runId} did not finish`);
  };

  it('answers 401 without a valid key and 403 when the role is too low, on every route', async () => {
    const routes: [string, string, Role][] = [
      ['GET', '/health', 'viewer'],
      ['GET', '/ready', 'viewer'],
      ['GET', '/connectors', 'viewer'],
      ['GET', '/jobs', 'viewer'],
      ['POST', '/jobs', 'admin'],
      ['GET', '/jobs/x', 'viewer'],
      ['PUT', '/jobs/x', 'admin'],
      ['DELETE', '/jobs/x', 'admin'],
      ['GET', '/jobs/x/versions', 'viewer'],
      ['POST', '/jobs/x/runs', 'operator'],
      ['POST', '/jobs/execute', 'operator'],
      ['GET', '/runs', 'viewer'],
      ['GET', '/runs/x', 'viewer'],
      ['GET', '/runs/x/quarantine', 'viewer'],
      ['GET', '/runs/x/report', 'viewer'],
      ['GET', '/runs/x/calls', 'viewer'],
      ['POST', '/runs/x/cancel', 'operator'],
      ['POST', '/runs/x/quarantine/replay', 'operator'],
      ['GET', '/audit', 'admin'],
      ['GET', '/metrics', 'viewer'],
      ['GET', '/runs/x/logs', 'viewer'],
      ['GET', '/alerts', 'viewer'],
      ['GET', '/sources', 'viewer'],
      ['POST', '/sources', 'admin'],
      ['GET', '/sources/x', 'viewer'],
      ['PUT', '/sources/x', 'admin'],
      ['DELETE', '/sources/x', 'admin'],
      ['GET', '/destinations', 'viewer'],
      ['PUT', '/destinations/x', 'admin'],
    ];
    for (const [method, url, needed] of routes) {
      const anonymous = await app.inject({ method: method as 'GET', url });
      assert.equal(anonymous.statusCode, 401, `${method} ${url} without a key`);
      const wrong = await app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: 'Bearer nope' },
      });
      assert.equal(wrong.statusCode, 401, `${method} ${url} with a wrong key`);
      const lower = needed === 'admin' ? 'operator' : needed === 'operator' ? 'viewer' : undefined;
      if (lower) {
        const forbidden = await app.inject({ method: method as 'GET', url, headers: bearer(lower) });
        assert.equal(forbidden.statusCode, 403, `${method} ${url} as ${lower}`);
        assert.equal(forbidden.json().code, 'INLET_E_FORBIDDEN');
      }
    }
  });

  it('creates a job from YAML, versions every change, and refuses an invalid spec with each problem located', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { ...bearer('admin'), 'content-type': 'application/yaml' },
      payload: JOB_YAML,
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().version, 1);
    const again = await app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { ...bearer('admin'), 'content-type': 'application/yaml' },
      payload: JOB_YAML,
    });
    assert.equal(again.statusCode, 409);
    const updated = await app.inject({
      method: 'PUT',
      url: '/jobs/api-events',
      headers: { ...bearer('admin'), 'content-type': 'application/yaml' },
      payload: `${JOB_YAML}description: now with a description\n`,
    });
    assert.equal(updated.statusCode, 200, updated.body);
    assert.equal(updated.json().version, 2);
    const versions = (
      await app.inject({ url: '/jobs/api-events/versions', headers: bearer('viewer') })
    ).json();
    assert.deepEqual(
      versions.map((v: { version: number }) => v.version),
      [1, 2],
    );

    const invalid = await app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { ...bearer('admin'), 'content-type': 'application/yaml' },
      payload:
        'name: broken\nsource:\n  type: file\n  path: x\n  format: { type: cvs }\nsink: { type: file, path: out }\n',
    });
    assert.equal(invalid.statusCode, 400);
    const body = invalid.json();
    assert.equal(body.code, 'INLET_E_JOB_INVALID');
    assert.deepEqual(
      body.problems.map((p: { path: string; line: number }) => [p.path, p.line]),
      [['source.format.type', 5]],
    );

    const json = await app.inject({
      method: 'PUT',
      url: '/jobs/json-job',
      headers: bearer('admin'),
      payload: {
        name: 'json-job',
        source: { type: 'file', path: 'data', format: { type: 'ndjson' } },
        sink: { type: 'file', path: 'out' },
      },
    });
    assert.equal(json.statusCode, 200, json.body);
    const mismatch = await app.inject({
      method: 'PUT',
      url: '/jobs/other',
      headers: bearer('admin'),
      payload: {
        name: 'json-job',
        source: { type: 'file', path: 'data', format: { type: 'ndjson' } },
        sink: { type: 'file', path: 'out' },
      },
    });
    assert.equal(mismatch.statusCode, 400);
    assert.equal(
      (await app.inject({ method: 'DELETE', url: '/jobs/json-job', headers: bearer('admin') })).statusCode,
      204,
    );
    assert.equal((await app.inject({ url: '/jobs/json-job', headers: bearer('viewer') })).statusCode, 404);
  });

  it('triggers a run (202), honours Idempotency-Key, and serves the run, its units and its quarantine', async () => {
    const trigger = await app.inject({
      method: 'POST',
      url: '/jobs/api-events/runs',
      headers: { ...bearer('operator'), 'idempotency-key': 'k-1' },
    });
    assert.equal(trigger.statusCode, 202, trigger.body);
    const { run_id: runId } = trigger.json();
    const replay = await app.inject({
      method: 'POST',
      url: '/jobs/api-events/runs',
      headers: { ...bearer('operator'), 'idempotency-key': 'k-1' },
    });
    assert.equal(replay.statusCode, 202);
    assert.equal(replay.json().run_id, runId, 'the same key answers with the same run');
    const run = await finished(runId);
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.counts, { received: 7, written: 4, quarantined: 2, filtered: 1 });
    assert.equal(run.units.length, 1);
    assert.ok(run.stage_seconds.normalize >= 0);
    const quarantine = (
      await app.inject({ url: `/runs/${runId}/quarantine`, headers: bearer('viewer') })
    ).json();
    assert.deepEqual(
      quarantine.records.map((r: { line: number; rule: string }) => [r.line, r.rule]),
      [
        [5, 'parse'],
        [6, 'required: user_id'],
      ],
    );
    const report = (await app.inject({ url: `/runs/${runId}/report`, headers: bearer('viewer') })).json();
    assert.equal(report.identity_holds, true);
    assert.deepEqual(
      [
        report.totals.read,
        report.totals.quarantined_by_validation,
        report.totals.filtered,
        report.totals.written,
      ],
      [7, 2, 1, 4],
    );
    const csv = await app.inject({ url: `/runs/${runId}/report?format=csv`, headers: bearer('viewer') });
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    assert.match(csv.body.split('\n')[2], /^TOTAL,succeeded,7,2,1,0,4,0,0,,4,/);
    const listed = (
      await app.inject({ url: '/runs?job=api-events&limit=1', headers: bearer('viewer') })
    ).json();
    assert.equal(listed.runs[0].run_id, runId);
    const audit = (await app.inject({ url: '/audit?action=run.triggered', headers: bearer('admin') })).json();
    assert.equal(audit.events[0].actor, 'operator key');
    assert.equal(audit.events[0].details.run_id, runId);
    assert.equal(audit.chain.verified, true);
    const runEnds = (
      await app.inject({ url: '/audit?action=run.finished', headers: bearer('admin') })
    ).json();
    assert.ok(
      runEnds.events.some((e: { details: { run_id: string } }) => e.details.run_id === runId),
      'run ends are audited',
    );
  });

  it('shows progress while a run runs, and its log events, paged or followed live', async () => {
    const slow = `${JOB_YAML.replace('name: api-events', 'name: api-slow')}`.replace(
      'transforms:\n',
      'transforms:\n  - script: { module: slow.ts }\n',
    );
    writeFileSync(
      join(workspace, 'slow.ts'),
      'export default async (rows: unknown[]) => { await new Promise((r) => setTimeout(r, 1500)); return rows; };\n',
    );
    const created = await app.inject({
      method: 'PUT',
      url: '/jobs/api-slow',
      headers: { ...bearer('admin'), 'content-type': 'application/yaml' },
      payload: slow,
    });
    assert.equal(created.statusCode, 200, created.body);
    const { run_id: runId } = (
      await app.inject({ method: 'POST', url: '/jobs/api-slow/runs', headers: bearer('operator') })
    ).json();
    const running = (await app.inject({ url: `/runs/${runId}`, headers: bearer('viewer') })).json();
    assert.equal(running.status, 'running');
    assert.equal(running.progress.units_total, 1);
    assert.ok(['extract', 'normalize', 'plan'].includes(running.progress.stage), running.progress.stage);

    // Followed live: the stream stays open until the run ends, and carries every event.
    const streamed = await app.inject({ url: `/runs/${runId}/logs?follow=true`, headers: bearer('viewer') });
    assert.equal(streamed.headers['content-type'], 'text/event-stream');
    const events = streamed.body
      .split('\n')
      .filter((line) => line.startsWith('data: {"'))
      .map((line) => JSON.parse(line.slice(6)).event);
    assert.deepEqual([events[0], events.at(-1)], ['run.started', 'run.finished']);
    assert.ok(events.includes('unit.committed'));
    assert.match(streamed.body, /event: end/);

    const page = (await app.inject({ url: `/runs/${runId}/logs?limit=2`, headers: bearer('viewer') })).json();
    assert.equal(page.events.length, 2);
    assert.equal(page.events[0].run_id, runId);
    assert.equal(page.next_offset, 2);
    const done = (await app.inject({ url: `/runs/${runId}`, headers: bearer('viewer') })).json();
    assert.equal(done.status, 'succeeded');
    assert.equal(done.progress, undefined, 'progress is shown only while running');
  });

  it('keeps named connections sealed at rest, and jobs use them by name', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/sources',
      headers: bearer('admin'),
      payload: {
        name: 'events-folder',
        type: 'file',
        config: { path: 'data/events.ndjson', format: { type: 'ndjson' } },
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json().config, { path: 'data/events.ndjson', format: { type: 'ndjson' } });
    const db = readFileSync(join(workspace, '.inlet', 'inlet.db'));
    assert.equal(db.includes('data/events.ndjson'), false, 'the config is not stored in clear');
    const wrongKey = await app.inject({
      method: 'PUT',
      url: '/sources/bad',
      headers: bearer('admin'),
      payload: { type: 'file', config: { passwd: 'x' } },
    });
    assert.equal(wrongKey.statusCode, 400);
    assert.equal(wrongKey.json().problems[0].path, 'config');
    const unknownType = await app.inject({
      method: 'PUT',
      url: '/sources/bad',
      headers: bearer('admin'),
      payload: { type: 'gopher', config: {} },
    });
    assert.equal(unknownType.statusCode, 400);

    const job =
      'name: via-connection\nsource:\n  connection: events-folder\nsink: { type: file, path: output/via-connection }\n';
    const saved = await app.inject({
      method: 'PUT',
      url: '/jobs/via-connection',
      headers: { ...bearer('admin'), 'content-type': 'application/yaml' },
      payload: job,
    });
    assert.equal(saved.statusCode, 200, saved.body);
    const { run_id: runId } = (
      await app.inject({ method: 'POST', url: '/jobs/via-connection/runs', headers: bearer('operator') })
    ).json();
    const run = await finished(runId);
    assert.equal(run.status, 'succeeded');
    assert.equal(run.counts.received, 7, 'the source came from the named connection');

    const dangling = await app.inject({
      method: 'PUT',
      url: '/jobs/dangling',
      headers: { ...bearer('admin'), 'content-type': 'application/yaml' },
      payload: 'name: dangling\nsource:\n  connection: nowhere\nsink: { type: file, path: out }\n',
    });
    assert.equal(dangling.statusCode, 400);
    assert.deepEqual(dangling.json().problems, [
      { path: 'source.connection', line: 3, message: 'no source connection named "nowhere"' },
    ]);
    assert.equal(
      (await app.inject({ method: 'DELETE', url: '/sources/events-folder', headers: bearer('admin') }))
        .statusCode,
      204,
    );
    assert.equal(
      (await app.inject({ url: '/sources/events-folder', headers: bearer('viewer') })).statusCode,
      404,
    );
  });

  it('replays quarantined records through the fixed job, once, with exact counts', async () => {
    const first = (
      await app.inject({ url: '/runs?job=api-events&status=succeeded&limit=100', headers: bearer('viewer') })
    )
      .json()
      .runs.at(-1);
    assert.equal(first.counts.quarantined, 2, 'a malformed line and a row without user_id');
    const fixed = JOB_YAML.replace('  - validate:\n      required: [user_id]\n', '');
    const updated = await app.inject({
      method: 'PUT',
      url: '/jobs/api-events',
      headers: { ...bearer('admin'), 'content-type': 'application/yaml' },
      payload: fixed,
    });
    assert.equal(updated.statusCode, 200, updated.body);
    const replay = await app.inject({
      method: 'POST',
      url: `/runs/${first.run_id}/quarantine/replay`,
      headers: bearer('operator'),
    });
    assert.equal(replay.statusCode, 202, replay.body);
    const { run_id: _replayRun, ...answer } = replay.json() as Record<string, unknown>;
    assert.deepEqual(answer, { replay_of: first.run_id, records: 1, not_replayable: 1 });
    const run = await finished(replay.json().run_id);
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.counts, { received: 1, written: 1, quarantined: 0, filtered: 0 });
    assert.match(run.units[0].uri, /^quarantine:\/\//);
    const again = await app.inject({
      method: 'POST',
      url: `/runs/${first.run_id}/quarantine/replay`,
      headers: bearer('operator'),
    });
    const second = await finished(again.json().run_id);
    assert.equal(second.counts.received, 0, 'the same records are not replayed twice');
    assert.equal(second.units[0].status, 'skipped');
  });

  it('takes parameters like --set through POST /jobs/execute', async () => {
    const trigger = await app.inject({
      method: 'POST',
      url: '/jobs/execute',
      headers: bearer('operator'),
      payload: {
        job_id: 'api-events',
        parameters: { 'transforms[0].filter': "environment = 'staging'", 'sink.path': 'output/staging' },
        reprocess: true,
      },
    });
    assert.equal(trigger.statusCode, 202, trigger.body);
    const run = await finished(trigger.json().run_id);
    assert.equal(run.status, 'succeeded');
    assert.equal(
      run.counts.written,
      1,
      `only the staging event passes the overridden filter: ${JSON.stringify(run)}`,
    );
    const bad = await app.inject({
      method: 'POST',
      url: '/jobs/execute',
      headers: bearer('operator'),
      payload: { job_id: 'api-events', parameters: 'x' },
    });
    assert.equal(bad.statusCode, 400);
  });

  it('answers malformed requests with 4xx, never 5xx', async () => {
    const bodies = [
      '{',
      '[]',
      '"x"',
      'null',
      '{"parameters": []}',
      '{"job_id": 5}',
      'name: [',
      '\u0000\u0001',
    ];
    const targets: [string, string, Role][] = [
      ['POST', '/jobs', 'admin'],
      ['PUT', '/jobs/api-events', 'admin'],
      ['POST', '/jobs/api-events/runs', 'operator'],
      ['POST', '/jobs/execute', 'operator'],
      ['POST', '/sources', 'admin'],
      ['PUT', '/sources/x', 'admin'],
      ['PUT', '/destinations/x', 'admin'],
    ];
    for (const [method, url, role] of targets) {
      for (const payload of bodies) {
        for (const type of ['application/json', 'application/yaml', 'text/plain']) {
          const response = await app.inject({
            method: method as 'POST',
            url,
            headers: { ...bearer(role), 'content-type': type },
            payload,
          });
          assert.ok(
            response.statusCode >= 400 && response.statusCode < 500,
            `${method} ${url} ${type} ${JSON.stringify(payload)} → ${response.statusCode} ${response.body}`,
          );
        }
      }
    }
    for (const url of [
      '/runs?limit=0',
      '/runs?status=bogus',
      '/runs?since=yesterday',
      '/jobs/..%2F..%2Fetc',
      '/runs/x/quarantine',
    ]) {
      const response = await app.inject({ url, headers: bearer('viewer') });
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${url} → ${response.statusCode}`);
    }
  });

  it('serves its OpenAPI description and the connectors with their schemas', async () => {
    const openapi = (await app.inject({ url: '/openapi.json' })).json();
    assert.equal(openapi.openapi.startsWith('3.'), true);
    for (const path of [
      '/jobs',
      '/jobs/{job_id}',
      '/jobs/{job_id}/runs',
      '/jobs/execute',
      '/runs',
      '/runs/{run_id}',
      '/runs/{run_id}/quarantine',
      '/runs/{run_id}/report',
    ]) {
      assert.ok(openapi.paths[path], `OpenAPI documents ${path}`);
    }
    const connectors = (await app.inject({ url: '/connectors', headers: bearer('viewer') })).json();
    assert.ok(
      connectors.some(
        (c: { kind: string; type: string; schema: object }) =>
          c.kind === 'source' && c.type === 'file' && c.schema,
      ),
    );
  });
});

describe('inlet serve, over a real socket', () => {
  it('serves with the bootstrap admin key, loads job files, and stops cleanly on SIGTERM', async () => {
    const dir = tempDir('inlet-serve-');
    cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
    const service = await startService(join(dir, '.inlet'), {
      args: ['--jobs', join(dir, 'examples')],
      env: { INLET_ADMIN_KEY: 'serve-admin-key' },
    });
    const { base } = service;
    const auth = { authorization: 'Bearer serve-admin-key' };
    assert.equal((await fetch(`${base}/health`)).status, 401);
    assert.equal((await fetch(`${base}/health`, { headers: auth })).status, 200);
    const jobs = (await (await fetch(`${base}/jobs`, { headers: auth })).json()) as { job_id: string }[];
    assert.deepEqual(
      jobs.map((j) => j.job_id),
      ['events-to-csv', 'orders-to-parquet', 'transactions-to-parquet'],
    );
    const trigger = await fetch(`${base}/jobs/transactions-to-parquet/runs`, {
      method: 'POST',
      headers: auth,
    });
    assert.equal(trigger.status, 202);
    const { run_id: runId } = (await trigger.json()) as { run_id: string };
    let run: { status: string; counts: { written: number } } = { status: 'running', counts: { written: 0 } };
    for (let i = 0; i < 100 && run.status === 'running'; i++) {
      await sleep(100);
      run = (await (await fetch(`${base}/runs/${runId}`, { headers: auth })).json()) as typeof run;
    }
    assert.equal(run.status, 'succeeded');
    assert.equal(run.counts.written, 8, 'the example ran with paths relative to its own folder');
    assert.equal(await service.stop(), 0);
  });
});

describe('graceful shutdown and restart', () => {
  it('SIGTERM interrupts a running run; the next start resumes it and every row lands once', async () => {
    const port = await freePort();
    const dir = tempDir('inlet-restart-');
    cpSync(join(ROOT, 'examples', 'csv-to-parquet'), join(dir, 'jobs', 'csv'), { recursive: true });
    writeFileSync(
      join(dir, 'jobs', 'csv', 'slow.ts'),
      'export default async (rows: unknown[]) => { await new Promise((r) => setTimeout(r, 1500)); return rows; };\n',
    );
    const jobFile = join(dir, 'jobs', 'csv', 'job.yaml');
    writeFileSync(
      jobFile,
      readFileSync(jobFile, 'utf8').replace(
        'transforms:\n',
        'transforms:\n  - script: { module: slow.ts }\n',
      ),
    );
    const serve = () =>
      startService(join(dir, '.inlet'), {
        port,
        args: ['--jobs', join(dir, 'jobs')],
        env: { INLET_ADMIN_KEY: 'restart-key' },
      });
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: 'Bearer restart-key' };
    const runs = async () =>
      (
        (await (await fetch(`${base}/runs`, { headers: auth })).json()) as {
          runs: { status: string; counts: { written: number } }[];
        }
      ).runs;

    const first = await serve();
    await fetch(`${base}/jobs/transactions-to-parquet/runs`, { method: 'POST', headers: auth });
    assert.equal(await first.stop(), 0, 'a clean stop');

    const second = await serve();
    let listed = await runs();
    for (let i = 0; i < 100 && listed[0]?.status !== 'succeeded'; i++) {
      await sleep(100);
      listed = await runs();
    }
    assert.deepEqual(
      listed.map((r) => r.status),
      ['succeeded', 'interrupted'],
      'the restart resumed the interrupted run',
    );
    await second.stop();
    const out = join(dir, 'jobs', 'csv', 'output', 'transactions');
    const [{ n }] = await query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM read_parquet('${out}/**/*.parquet')`,
    );
    assert.equal(n, 8, 'every good row exactly once');
  });
});
