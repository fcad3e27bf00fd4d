import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type MockCrm, type MockCrmOptions, startMockCrm } from '../../examples/crm/mock-crm.ts';
import { ROOT } from '../helpers.ts';

interface CallAnswer {
  status: number;
  headers: Headers;
  text: string;
  body: {
    request_id?: string;
    code?: number;
    message?: string;
    results?: { index: number; code: number; message: string; error?: string; customer_id?: string }[];
  };
}

async function crmFor(t: TestContext, options: Partial<MockCrmOptions> = {}): Promise<MockCrm> {
  const crm = await startMockCrm(options);
  t.after(() => crm.stop());
  return crm;
}

async function tokenFor(crm: MockCrm, secret = 'inlet-secret'): Promise<Response> {
  return fetch(`${crm.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'inlet',
      client_secret: secret,
    }),
  });
}

async function token(crm: MockCrm): Promise<string> {
  const answer = await tokenFor(crm);
  assert.equal(answer.status, 200);
  return ((await answer.json()) as { access_token: string }).access_token;
}

async function call(
  crm: MockCrm,
  endpoint: string,
  records: unknown[],
  options: { token?: string; key?: string; signal?: AbortSignal; body?: string } = {},
): Promise<CallAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.key !== undefined) headers['idempotency-key'] = options.key;
  const response = await fetch(`${crm.url}/api/${endpoint}`, {
    method: 'POST',
    headers,
    body: options.body ?? JSON.stringify({ records }),
    signal: options.signal,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) };
}

async function customer(
  crm: MockCrm,
  id: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${crm.url}/customers/${id}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const ana = { customer_id: 'c1', name: 'Ana', email: 'ana@example.com', country: 'PT' };
const ben = { customer_id: 'c2', name: 'Ben', email: 'ben@example.com' };
const trx = { trx_id: 't1', customer_id: 'c1', amount: 12.5, currency: 'EUR', ts: '2024-01-02T10:00:00Z' };

describe('mock CRM: auth', () => {
  it('issues bearer tokens for the client credentials and refuses everything else', async (t) => {
    const crm = await crmFor(t, { tokenTtlSeconds: 1 });
    const issued = await tokenFor(crm);
    assert.equal(issued.status, 200);
    const grant = (await issued.json()) as { access_token: string; token_type: string; expires_in: number };
    assert.equal(grant.token_type, 'Bearer');
    assert.equal(grant.expires_in, 1);
    assert.ok(grant.access_token.length >= 16);

    const basic = await fetch(`${crm.url}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('inlet:inlet-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    assert.equal(basic.status, 200);

    const wrong = await tokenFor(crm, 'not-the-secret');
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { error: 'invalid_client' });

    const missing = await call(crm, 'ADD_CUST', [ana]);
    assert.equal(missing.status, 401);
    const forged = await call(crm, 'ADD_CUST', [ana], { token: 'made-up' });
    assert.equal(forged.status, 401);
    assert.equal((await call(crm, 'ADD_CUST', [ana], { token: grant.access_token })).status, 200);

    await sleep(1100);
    const expired = await call(crm, 'ADD_CUST', [ben], { token: grant.access_token });
    assert.equal(expired.status, 401);
    const stats = crm.stats();
    assert.equal(stats.unauthorized, 3);
    assert.equal(stats.attempts_total, 4);
    assert.equal(stats.customers, 1, 'refused calls apply nothing');
  });
});

describe('mock CRM: endpoints', () => {
  it('ADD_CUST creates, answers 8006 for an existing customer and 3217 for invalid data', async (t) => {
    const crm = await crmFor(t);
    const bearer = await token(crm);
    const first = await call(crm, 'ADD_CUST', [ana], { token: bearer });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-request-id'), first.body.request_id);
    assert.deepEqual(first.body.results, [{ index: 0, customer_id: 'c1', code: 200, message: 'created' }]);

    const again = await call(
      crm,
      'ADD_CUST',
      [
        { ...ana, name: 'Changed' },
        { ...ben, email: 'no-at-sign' },
        { customer_id: 'c3', email: 'x@y' },
      ],
      { token: bearer },
    );
    assert.equal(again.status, 200);
    assert.deepEqual(
      again.body.results?.map((r) => [r.index, r.code, r.message]),
      [
        [0, 8006, 'customer already exists'],
        [1, 3217, 'invalid source data: email'],
        [2, 3217, 'invalid source data: name'],
      ],
    );
    const stored = await customer(crm, 'c1');
    assert.equal(stored.status, 200);
    assert.equal(stored.body.name, 'Ana', 'an existing customer is not changed by ADD_CUST');
    assert.equal(stored.body.country, 'PT');
    assert.equal((await customer(crm, 'c2')).status, 404);
    assert.deepEqual(crm.stats().records.ADD_CUST, { 200: 1, 8006: 1, 3217: 2 });
  });

  it('UPD_CUST updates, and answers CONFLICTING_PROFILE when the email is another customer’s', async (t) => {
    const crm = await crmFor(t);
    const bearer = await token(crm);
    await call(crm, 'ADD_CUST', [ana, ben], { token: bearer });
    const answer = await call(
      crm,
      'UPD_CUST',
      [
        { ...ana, name: 'Ana Maria', email: 'ana.maria@example.com' },
        { ...ben, email: 'ANA.MARIA@example.com' },
        { customer_id: 'c9', name: 'Nobody', email: 'n@example.com' },
      ],
      { token: bearer },
    );
    assert.equal(answer.status, 200);
    const [updated, conflict, unknown] = answer.body.results ?? [];
    assert.deepEqual(updated, { index: 0, customer_id: 'c1', code: 200, message: 'updated' });
    assert.deepEqual(conflict, {
      index: 1,
      customer_id: 'c2',
      code: 409,
      error: 'CONFLICTING_PROFILE',
      message: 'conflicting profile: email belongs to c1',
    });
    assert.equal(unknown.code, 3217);
    assert.equal((await customer(crm, 'c1')).body.name, 'Ana Maria');
    assert.equal((await customer(crm, 'c2')).body.email, 'ben@example.com', 'a conflict changes nothing');

    const freed = await call(crm, 'UPD_CUST', [{ ...ben, email: 'ana@example.com' }], { token: bearer });
    assert.equal(freed.body.results?.[0].code, 200, 'an email given up by its owner can be taken');
  });

  it('ADD_TRX stores, answers 624 naming missing fields, and records a trx_id once', async (t) => {
    const crm = await crmFor(t);
    const bearer = await token(crm);
    const answer = await call(
      crm,
      'ADD_TRX',
      [trx, { trx_id: 't2', customer_id: 'c1', currency: 'EUR' }, { ...trx, amount: 99 }],
      { token: bearer },
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(
      answer.body.results?.map((r) => [r.code, r.message]),
      [
        [200, 'stored'],
        [624, 'incomplete body parameters: amount, ts'],
        [200, 'already recorded'],
      ],
    );
    const stats = crm.stats();
    assert.equal(stats.transactions, 1);
    assert.deepEqual(stats.records.ADD_TRX, { 200: 2, 624: 1 });
  });

  it('answers 400 for a body that is not JSON or has no records array, and 413 beyond maxBatch', async (t) => {
    const crm = await crmFor(t);
    const bearer = await token(crm);
    const notJson = await call(crm, 'ADD_CUST', [], { token: bearer, body: '{"records": [' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.code, 400);
    const noRecords = await call(crm, 'ADD_CUST', [], { token: bearer, body: '{"rows": []}' });
    assert.equal(noRecords.status, 400);

    const tooMany = Array.from({ length: 101 }, (_, i) => ({ ...ana, customer_id: `c${i}` }));
    const big = await call(crm, 'ADD_CUST', tooMany, { token: bearer });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 413);
    assert.equal(crm.stats().customers, 0);

    const set = await fetch(`${crm.url}/control`, { method: 'POST', body: JSON.stringify({ maxBatch: 2 }) });
    assert.equal(set.status, 200);
    assert.equal((await call(crm, 'ADD_CUST', [ana, ben, trx], { token: bearer })).status, 413);
    assert.equal((await call(crm, 'ADD_CUST', [ana, ben], { token: bearer })).status, 200);
    const refused = await fetch(`${crm.url}/control`, {
      method: 'POST',
      body: JSON.stringify({ failRate: 2 }),
    });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { message: string }).message, /failRate/);
  });
});

describe('mock CRM: idempotency', () => {
  it('replays the stored answer for a repeated key and does not apply the batch twice', async (t) => {
    const crm = await crmFor(t);
    const bearer = await token(crm);
    const first = await call(crm, 'ADD_CUST', [ana], { token: bearer, key: 'batch-1' });
    const second = await call(crm, 'ADD_CUST', [ana], { token: bearer, key: 'batch-1' });
    assert.equal(first.headers.get('idempotent-replay'), null);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('idempotent-replay'), 'true');
    assert.equal(second.text, first.text, 'the replay is the original answer, byte for byte');
    assert.equal(second.headers.get('x-request-id'), first.body.request_id);
    assert.equal(second.body.results?.[0].code, 200, 'a replay is not an 8006');

    const otherEndpoint = await call(crm, 'UPD_CUST', [ana], { token: bearer, key: 'batch-1' });
    assert.equal(otherEndpoint.headers.get('idempotent-replay'), null, 'keys are per endpoint');
    await call(crm, 'ADD_CUST', [ana], { token: bearer });

    const stats = crm.stats();
    assert.deepEqual(stats.records.ADD_CUST, { 200: 1, 8006: 1, 3217: 0 });
    assert.equal(stats.duplicate_deliveries, 1);
    assert.equal(stats.calls_without_key, 1);
    assert.deepEqual(stats.calls, { ADD_CUST: 3, UPD_CUST: 1, ADD_TRX: 0 });
  });
});

describe('mock CRM: rate limit', () => {
  it('answers 429 with Retry-After beyond callsPerMinute in a rolling minute, without applying', async (t) => {
    const crm = await crmFor(t, { callsPerMinute: 5 });
    const bearer = await token(crm);
    for (let i = 1; i <= 5; i++) {
      const ok = await call(crm, 'ADD_CUST', [{ ...ana, customer_id: `c${i}` }], { token: bearer });
      assert.equal(ok.status, 200, `call ${i}`);
    }
    const over = await call(crm, 'ADD_TRX', [trx], { token: bearer });
    assert.equal(over.status, 429);
    assert.deepEqual(over.body, { code: 429, message: 'rate limit exceeded' });
    const retryAfter = Number(over.headers.get('retry-after'));
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
      `Retry-After ${retryAfter}`,
    );
    const stats = crm.stats();
    assert.equal(stats.transactions, 0);
    assert.equal(stats.over_limit, 1);
    assert.equal(stats.max_calls_in_any_minute, 5);
    assert.equal(stats.attempts_total, 6);
  });
});

describe('mock CRM: injected faults and latency', () => {
  it('failRate 1 answers 503 and applies nothing', async (t) => {
    const crm = await crmFor(t, { failRate: 1 });
    const answer = await call(crm, 'ADD_CUST', [ana], { token: await token(crm) });
    assert.equal(answer.status, 503);
    assert.deepEqual(answer.body, { code: 503, message: 'unavailable' });
    assert.equal(crm.stats().customers, 0);
    assert.equal(crm.stats().failed_injected, 1);
  });

  it('lostResponseRate 1 applies the batch but drops the connection; the retry is a replay', async (t) => {
    const crm = await crmFor(t, { lostResponseRate: 1 });
    const bearer = await token(crm);
    await assert.rejects(call(crm, 'ADD_CUST', [ana], { token: bearer, key: 'lost-1' }), TypeError);
    let stats = crm.stats();
    assert.equal(stats.lost_responses, 1);
    assert.equal(stats.customers, 1, 'the batch was applied');
    assert.equal((await customer(crm, 'c1')).status, 200);

    const retry = await call(crm, 'ADD_CUST', [ana], { token: bearer, key: 'lost-1' });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('idempotent-replay'), 'true');
    assert.deepEqual(retry.body.results?.[0], { index: 0, customer_id: 'c1', code: 200, message: 'created' });
    stats = crm.stats();
    assert.equal(stats.records.ADD_CUST[200], 1);
    assert.equal(stats.duplicate_deliveries, 1);
  });

  it('timeoutRate 1 never answers, applies nothing, and stop() still ends held calls', async (t) => {
    const crm = await startMockCrm({ timeoutRate: 1 });
    t.after(() => crm.stop());
    const bearer = await token(crm);
    await assert.rejects(
      call(crm, 'ADD_CUST', [ana], { token: bearer, signal: AbortSignal.timeout(300) }),
      (error: Error) => error.name === 'TimeoutError',
    );
    assert.equal(crm.stats().timeouts, 1);
    assert.equal(crm.stats().customers, 0);

    const held = call(crm, 'ADD_CUST', [ana], { token: bearer });
    await sleep(100);
    await crm.stop();
    await assert.rejects(held, TypeError);
  });

  it('latencyMs delays every answer by at least that much', async (t) => {
    const crm = await crmFor(t);
    const bearer = await token(crm);
    crm.control({ latencyMs: 200 });
    const started = performance.now();
    const answer = await call(crm, 'ADD_CUST', [ana], { token: bearer });
    const elapsed = performance.now() - started;
    assert.equal(answer.status, 200);
    // libuv timers count whole milliseconds, so a 200 ms timer may fire up to 1 ms early.
    assert.ok(elapsed >= 199, `answered after ${elapsed.toFixed(1)} ms`);
  });
});

describe('mock CRM: reset and script mode', () => {
  it('POST /reset clears customers, transactions and stats', async (t) => {
    const crm = await crmFor(t);
    const bearer = await token(crm);
    await call(crm, 'ADD_CUST', [ana], { token: bearer, key: 'k' });
    await call(crm, 'ADD_TRX', [trx], { token: bearer });
    const reset = await fetch(`${crm.url}/reset`, { method: 'POST' });
    assert.equal(reset.status, 200);
    const stats = (await (await fetch(`${crm.url}/stats`)).json()) as ReturnType<MockCrm['stats']>;
    assert.equal(stats.customers, 0);
    assert.equal(stats.transactions, 0);
    assert.equal(stats.attempts_total, 0);
    assert.equal(stats.max_calls_in_any_minute, 0);
    assert.equal((await customer(crm, 'c1')).status, 404);
    const again = await call(crm, 'ADD_CUST', [ana], { token: bearer, key: 'k' });
    assert.equal(again.headers.get('idempotent-replay'), null, 'stored answers are cleared too');
  });

  it('runs as a script with flags, prints its URL and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'examples', 'crm', 'mock-crm.ts'),
        '--port',
        '0',
        '--calls-per-minute',
        '7',
        '--fail-rate',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      const url = /mock CRM listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line.toString())?.[1];
      assert.ok(url, line.toString());
      const options = (await (await fetch(`${url}/control`)).json()) as Record<string, unknown>;
      assert.equal(options.callsPerMinute, 7);
      assert.equal(options.failRate, 1);
      assert.equal(options.clientSecret, undefined, 'the secret is not shown');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });
});
