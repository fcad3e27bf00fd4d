import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CrmData, ENDPOINTS, type Endpoint } from './crm-data.ts';
import { type MockCrmOptions, validateOptions } from './options.ts';
import { ReplayStore } from './replays.ts';
import { RollingWindow } from './rolling-window.ts';
import { type Counters, countResults, emptyCounters, type MockCrmStats } from './stats.ts';
import { readCredentials, sameSecret, TokenIssuer } from './tokens.ts';

/** Everything one mock CRM instance remembers; `options` is changed in place by `control`. */
export class MockCrmState {
  readonly options: MockCrmOptions;
  readonly data = new CrmData();
  readonly window = new RollingWindow();
  readonly tokens = new TokenIssuer();
  readonly replays = new ReplayStore();
  counters: Counters = emptyCounters();

  constructor(options: MockCrmOptions) {
    this.options = options;
  }

  stats(): MockCrmStats {
    return {
      ...structuredClone(this.counters),
      customers: this.data.customers.size,
      transactions: this.data.transactions.size,
      max_calls_in_any_minute: this.window.busiestMinute,
    };
  }

  control(patch: unknown): void {
    Object.assign(this.options, validateOptions(patch, true));
  }

  reset(): void {
    this.data.clear();
    this.window.reset();
    this.replays.clear();
    this.counters = emptyCounters();
  }
}

function fail(reply: FastifyReply, code: number, message: string): FastifyReply {
  return reply.code(code).send({ code, message });
}

/** Ends a call without answering: the client sees its connection drop (or wait, if `hold`). */
function abandon(request: FastifyRequest, reply: FastifyReply, hold: boolean): FastifyReply {
  reply.hijack();
  if (!hold) request.raw.socket.destroy();
  return reply;
}

function parseRecords(body: unknown): unknown[] | string {
  if (!Buffer.isBuffer(body) || body.length === 0) return 'body must be JSON {"records": [...]}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return `body is not JSON: ${(error as Error).message}`;
  }
  const records = (parsed as { records?: unknown } | null)?.records;
  return Array.isArray(records) ? records : 'body must have a "records" array';
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Serves one API call through the same gates a real gateway and CRM would: auth, rate, faults, replay, apply. */
async function handleCall(
  state: MockCrmState,
  stopping: AbortSignal,
  endpoint: Endpoint,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { options, counters } = state;
  counters.attempts_total++;
  if (!state.tokens.accepts(request.headers.authorization, Date.now())) {
    counters.unauthorized++;
    reply.header('www-authenticate', 'Bearer error="invalid_token"');
    return fail(reply, 401, 'missing, unknown or expired bearer token');
  }
  const admission = state.window.admit(performance.now(), options.callsPerMinute);
  if (!admission.admitted) {
    counters.over_limit++;
    reply.header('retry-after', String(admission.retryAfterSeconds));
    return fail(reply, 429, 'rate limit exceeded');
  }
  const delayMs = options.latencyMs + Math.random() * options.latencyJitterMs;
  if (delayMs > 0) {
    try {
      await sleep(delayMs, undefined, { signal: stopping });
    } catch {
      return abandon(request, reply, false);
    }
  }
  if (Math.random() < options.failRate) {
    counters.failed_injected++;
    return fail(reply, 503, 'unavailable');
  }
  if (Math.random() < options.timeoutRate) {
    counters.timeouts++;
    return abandon(request, reply, true);
  }

  const key = headerText(request.headers['idempotency-key']);
  const stored = key === undefined ? undefined : state.replays.get(endpoint, key);
  if (stored !== undefined) {
    counters.duplicate_deliveries++;
    counters.calls[endpoint]++;
    reply.header('x-request-id', stored.requestId).header('idempotent-replay', 'true');
    return reply.type('application/json; charset=utf-8').send(stored.body);
  }
  const records = parseRecords(request.body);
  if (typeof records === 'string') return fail(reply, 400, records);
  if (records.length > options.maxBatch) {
    return fail(reply, 413, `${records.length} records in one call; at most ${options.maxBatch}`);
  }

  const results = state.data.apply(endpoint, records, new Date().toISOString());
  countResults(counters, endpoint, results);
  const requestId = randomUUID();
  const body = JSON.stringify({ request_id: requestId, results });
  if (key === undefined) counters.calls_without_key++;
  else state.replays.set(endpoint, key, { requestId, body }, options.idempotencyKeyLimit);
  if (Math.random() < options.lostResponseRate) {
    counters.lost_responses++;
    return abandon(request, reply, false);
  }
  counters.calls[endpoint]++;
  reply.header('x-request-id', requestId);
  return reply.type('application/json; charset=utf-8').send(body);
}

function issueToken(state: MockCrmState, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { options } = state;
  const given = readCredentials(
    request.headers.authorization,
    request.headers['content-type'],
    Buffer.isBuffer(request.body) ? request.body : undefined,
  );
  if (given.grantType !== undefined && given.grantType !== 'client_credentials') {
    return reply.code(400).send({ error: 'unsupported_grant_type' });
  }
  const valid =
    given.clientId === options.clientId &&
    given.clientSecret !== undefined &&
    sameSecret(given.clientSecret, options.clientSecret);
  if (!valid) return reply.code(401).send({ error: 'invalid_client' });
  const accessToken = state.tokens.issue(Date.now(), options.tokenTtlSeconds);
  reply.header('cache-control', 'no-store');
  return reply.send({ access_token: accessToken, token_type: 'Bearer', expires_in: options.tokenTtlSeconds });
}

function parseJson(body: unknown): unknown {
  return JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : '{}');
}

/** Builds the Fastify app serving `state`; `stopping` aborts calls still waiting out their latency. */
export function buildMockCrmApp(state: MockCrmState, stopping: AbortSignal): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true });
  // Bodies stay raw so each route decides how to read them and answers bad ones in its own format.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) =>
    fail(reply, error.statusCode ?? 500, error.message),
  );
  app.setNotFoundHandler((request, reply) => fail(reply, 404, `no route ${request.method} ${request.url}`));

  app.post('/oauth/token', (request, reply) => issueToken(state, request, reply));
  for (const endpoint of ENDPOINTS) {
    app.post(`/api/${endpoint}`, (request, reply) => handleCall(state, stopping, endpoint, request, reply));
  }
  app.get('/stats', () => state.stats());
  app.get<{ Params: { id: string } }>('/customers/:id', (request, reply) => {
    const customer = state.data.customers.get(request.params.id);
    return customer ?? fail(reply, 404, `no customer ${request.params.id}`);
  });
  app.post('/reset', () => {
    state.reset();
    return { reset: true };
  });
  app.get('/control', () => publicOptions(state.options));
  app.post('/control', (request, reply) => {
    try {
      state.control(parseJson(request.body));
    } catch (error) {
      return fail(reply, 400, (error as Error).message);
    }
    return publicOptions(state.options);
  });
  return app;
}

function publicOptions(options: MockCrmOptions): Omit<MockCrmOptions, 'clientSecret'> {
  const { clientSecret: _secret, ...shown } = options;
  return shown;
}
