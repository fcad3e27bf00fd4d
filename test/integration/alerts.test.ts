import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { jobSchema } from '../../src/connectors/registry.ts';
import { Alerter } from '../../src/observability/alerts.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { tempDir, testLauncher } from '../helpers.ts';

describe('alerts, delivered to a real webhook receiver and a real SMTP server on loopback', () => {
  const posts: { body: Record<string, unknown> }[] = [];
  const mails: { to: string; raw: string }[] = [];
  let failNextWebhook = 0;
  const webhook = createHttpServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => {
      text += chunk;
    });
    request.on('end', () => {
      if (failNextWebhook > 0) {
        failNextWebhook--;
        response.writeHead(503).end();
        return;
      }
      posts.push({ body: JSON.parse(text) });
      response.writeHead(200).end('ok');
    });
  });
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk) => {
        raw += chunk;
      });
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), raw });
        callback();
      });
    },
  });
  let webhookUrl = '';
  let smtpUrl = '';
  const dir = tempDir('inlet-alerts-');
  const store = new SqliteStore(join(dir, 'inlet.db'));

  before(async () => {
    await new Promise<void>((done) => webhook.listen(0, '127.0.0.1', done));
    webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
    await new Promise<void>((done) => smtp.listen(0, '127.0.0.1', done));
    smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    webhook.close();
    await new Promise<void>((done) => smtp.close(done));
    await store.close();
  });

  const spec = (alerts: Record<string, unknown>) =>
    jobSchema.parse({
      name: 'alerting-job',
      source: { type: 'file', path: 'in', format: { type: 'csv' } },
      sink: { type: 'file', path: 'out' },
      alerts: {
        channels: [
          { type: 'webhook', url: webhookUrl },
          { type: 'email', to: ['ops@example.com'] },
        ],
        ...alerts,
      },
    });
  const alerter = (extra: Partial<ConstructorParameters<typeof Alerter>[0]> = {}) =>
    new Alerter({
      store,
      logger: silentLogger(),
      smtpUrl,
      allowPrivateNetworks: true,
      minRetryMs: 5,
      ...extra,
    });
  const counts = (received: number, quarantined: number) => ({
    received,
    written: received - quarantined,
    quarantined,
    filtered: 0,
  });

  it('a failed run alerts both channels; a webhook answering 503 is retried, and every delivery is recorded', async () => {
    failNextWebhook = 1;
    await alerter().onRunFinished(spec({}), {
      run_id: 'r1',
      job: 'alerting-job',
      status: 'failed',
      counts: counts(0, 0),
      error: 'disk full',
    });
    assert.equal(posts.length, 1);
    assert.equal(posts[0].body.kind, 'failure');
    assert.match(String(posts[0].body.text), /run r1 of alerting-job failed: disk full/);
    assert.equal(mails.length, 1);
    assert.equal(mails[0].to, 'ops@example.com');
    assert.match(mails[0].raw, /Subject: \[inlet\] failure: alerting-job/);
    const recorded = await store.listAlerts({ job: 'alerting-job', kind: 'failure' });
    assert.deepEqual(recorded.map((a) => [a.channel.split(' ')[0], a.status, a.attempts]).sort(), [
      ['email', 'delivered', 1],
      ['webhook', 'delivered', 2],
    ]);
  });

  it('alerts on a quarantine ratio above the threshold and on zero records, not otherwise', async () => {
    const before = posts.length;
    const a = alerter();
    const rules = spec({ on_failure: true, on_zero_records: true, quarantine_ratio_above: 0.05 });
    await a.onRunFinished(rules, {
      run_id: 'r2',
      job: 'alerting-job',
      status: 'succeeded',
      counts: counts(100, 4),
    });
    assert.equal(posts.length, before, '4% is under 5%');
    await a.onRunFinished(rules, {
      run_id: 'r3',
      job: 'alerting-job',
      status: 'succeeded',
      counts: counts(100, 6),
    });
    await a.onRunFinished(rules, {
      run_id: 'r4',
      job: 'alerting-job',
      status: 'succeeded',
      counts: counts(0, 0),
    });
    assert.deepEqual(
      posts.slice(before).map((p) => [p.body.kind, p.body.run_id]),
      [
        ['quarantine_ratio', 'r3'],
        ['zero_records', 'r4'],
      ],
    );
  });

  it('alerts once when a job goes stale, not again until it has run', async () => {
    const before = posts.length;
    let now = new Date('2030-01-01T12:00:00Z');
    const a = alerter({ now: () => now });
    const stale = spec({ on_failure: false, freshness: '1h' });
    await a.checkFreshness(stale, new Date('2030-01-01T11:30:00Z'));
    assert.equal(posts.length, before, 'within the window');
    now = new Date('2030-01-01T12:45:00Z');
    await a.checkFreshness(stale, new Date('2030-01-01T11:30:00Z'));
    await a.checkFreshness(stale, new Date('2030-01-01T11:30:00Z'));
    assert.deepEqual(
      posts.slice(before).map((p) => p.body.kind),
      ['freshness'],
    );
  });

  it('refuses webhooks to private or loopback addresses unless allowed, and records why', async () => {
    await alerter({ allowPrivateNetworks: false }).onRunFinished(spec({}), {
      run_id: 'r5',
      job: 'alerting-job',
      status: 'failed',
      counts: counts(0, 0),
    });
    const [refused] = await store
      .listAlerts({ job: 'alerting-job', kind: 'failure', limit: 2 })
      .then((all) => all.filter((x) => x.runId === 'r5' && x.channel.startsWith('webhook')));
    assert.equal(refused.status, 'failed');
    assert.match(refused.error ?? '', /loopback address/);
  });

  it('a run that fails in the service raises its alert', async () => {
    const before = posts.length;
    const launcher = testLauncher(store, dir, { alerter: alerter() });
    const failing = spec({ channels: [{ type: 'webhook', url: webhookUrl }] });
    await launcher.start(failing, dir).catch(() => undefined);
    for (let i = 0; i < 100 && posts.length === before; i++) await sleep(50);
    assert.equal(posts.length, before + 1);
    assert.match(String(posts.at(-1)?.body.text), /failed: source\.path: .* does not exist/);
  });
});
