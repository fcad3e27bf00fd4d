import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from '../../src/api/app.ts';
import { hashKey } from '../../src/api/auth.ts';
import { SecretBox } from '../../src/engine/secret-box.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { InletMetrics } from '../../src/observability/metrics.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { startService, tempDir, testLauncher } from '../helpers.ts';

const secrets = new SecretBox(randomBytes(32));

it('limits requests per API key: past the limit 429 with a retry time, other keys unaffected', async () => {
  const dir = tempDir('inlet-ratelimit-');
  const store = new SqliteStore(join(dir, 'inlet.db'));
  for (const name of ['a', 'b']) {
    await store.createApiKey({
      keyId: randomUUID(),
      name,
      role: 'viewer',
      createdAt: new Date().toISOString(),
      keyHash: hashKey(`key-${name}`),
    });
  }
  const metrics = new InletMetrics();
  const launcher = testLauncher(store, dir, { metrics, secrets });
  const app = await buildApp({
    store,
    secrets,
    launcher,
    metrics,
    dataDir: dir,
    logger: silentLogger(),
    rateLimitPerMinute: 3,
  });
  const call = (key: string) => app.inject({ url: '/health', headers: { authorization: `Bearer ${key}` } });
  for (let i = 0; i < 3; i++) assert.equal((await call('key-a')).statusCode, 200);
  const limited = await call('key-a');
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().code, 'INLET_E_RATE_LIMITED');
  assert.equal(limited.json().error, 'Too Many Requests');
  assert.ok(Number(limited.headers['retry-after']) > 0);
  assert.equal((await call('key-b')).statusCode, 200, 'another key has its own budget');
  await app.close();
  await store.close();
});

it('serves HTTPS when a certificate is configured', async () => {
  const dir = tempDir('inlet-tls-');
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const service = await startService(join(dir, '.inlet'), {
    env: { INLET_ADMIN_KEY: 'tls-key', INLET_TLS_CERT: cert, INLET_TLS_KEY: key },
  });
  const { port } = service;
  const request = () =>
    new Promise<number>((done, fail) => {
      get(
        {
          host: '127.0.0.1',
          port,
          path: '/health',
          ca: readFileSync(cert),
          headers: { authorization: 'Bearer tls-key' },
        },
        (response) => {
          response.resume();
          done(response.statusCode ?? 0);
        },
      ).on('error', fail);
    });
  let status = 0;
  for (let i = 0; i < 100 && status === 0; i++) {
    status = await request().catch(() => 0);
    if (status === 0) await sleep(100);
  }
  assert.equal(status, 200, 'the certificate verifies and the key is accepted');
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`), 'plain HTTP is not served');
  await service.stop();
});

it('a first start without INLET_ADMIN_KEY prints a new admin key once, and that key works', async () => {
  const dir = tempDir('inlet-bootstrap-');
  const start = () => startService(join(dir, '.inlet'), { env: { INLET_ADMIN_KEY: '' } });
  const first = await start();
  const key = /admin API key \(shown once, store it now\): (inlet_\S+)/.exec(first.stdout())?.[1];
  assert.ok(key, first.stdout());
  const ok = await fetch(`${first.base}/jobs`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(ok.status, 200);
  await first.stop();
  const second = await start();
  assert.doesNotMatch(second.stdout(), /admin API key/, 'shown once only');
  await second.stop();
});
