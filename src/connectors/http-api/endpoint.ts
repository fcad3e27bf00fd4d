import { setTimeout as sleep } from 'node:timers/promises';
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  circuitBreaker,
  handleType,
  IsolatedCircuitError,
} from 'cockatiel';
import type { SharedState } from '../../core/connector.ts';
import type { Logger } from '../../core/logger.ts';
import { refusePrivateAddress } from '../../engine/network-policy.ts';
import { parseRetryAfter, SharedRateLimiter } from '../../engine/rate-limit.ts';
import type { Authenticator } from './auth.ts';
import type { DeliveryContext } from './deliver.ts';
import { type CallAnswer, outcomesOf, type RecordOutcome } from './responses.ts';
import type { EndpointConfig, HttpSinkConfig } from './schema.ts';

/** One call's answer and what was measured of it. */
interface Sent {
  answer: CallAnswer;
  requestId: string | null;
  latencyMs: number;
  retryAfterMs?: number;
}

/** A call that got no usable answer (network error, timeout, 5xx): it counts against the circuit. */
class FailedCall extends Error {
  readonly sent: Sent;
  constructor(sent: Sent) {
    super(sent.answer.error ?? `HTTP ${sent.answer.status}`);
    this.sent = sent;
  }
}

export interface EndpointOptions {
  name: string;
  config: EndpointConfig;
  sink: HttpSinkConfig;
  auth: Authenticator;
  shared?: SharedState;
  logger: Logger;
  allowPrivateNetworks?: boolean;
}

/**
 * One URL the sink calls, with what every call to it goes through: the shared rate limit,
 * the circuit breaker (which holds calls while open, then lets one probe through), the
 * timeout, authentication, and the response rules. Every call is recorded in the store.
 */
export class Endpoint {
  readonly name: string;
  readonly url: string;
  readonly #config: EndpointConfig;
  readonly #sink: HttpSinkConfig;
  readonly #auth: Authenticator;
  readonly #shared?: SharedState;
  readonly #logger: Logger;
  readonly #limiter?: SharedRateLimiter;
  readonly #breaker: CircuitBreakerPolicy;
  readonly #allowPrivate: boolean;
  /** The address check, done once per endpoint. */
  #allowed?: Promise<void>;

  constructor(options: EndpointOptions) {
    this.name = options.name;
    this.url = options.config.url;
    this.#config = options.config;
    this.#sink = options.sink;
    this.#auth = options.auth;
    this.#shared = options.shared;
    this.#logger = options.logger;
    this.#allowPrivate = options.allowPrivateNetworks ?? false;
    const limit = options.sink.rate_limit;
    if (limit && options.shared) {
      // Keyed by origin unless named: a rate limit belongs to the API (or a credential's quota), not to one path.
      this.#limiter = new SharedRateLimiter({
        store: options.shared,
        key: `http:${limit.quota ?? new URL(options.config.url).origin}`,
        callsPerMinute: limit.calls_per_minute,
        burst: limit.burst,
      });
    }
    this.#breaker = circuitBreaker(handleType(FailedCall), {
      halfOpenAfter: options.sink.circuit_breaker.half_open_after_seconds * 1000,
      breaker: new ConsecutiveBreaker(options.sink.circuit_breaker.failures),
    });
    this.#breaker.onBreak(() => this.#logger.warn({ endpoint: this.url }, 'http.circuit_open'));
    this.#breaker.onReset(() => this.#logger.info({ endpoint: this.url }, 'http.circuit_closed'));
  }

  /** Sends records once (after waiting for the circuit and the rate limit) and decides each one's outcome. */
  async call(
    records: Record<string, unknown>[],
    idempotencyKey: string,
    attempt: number,
    context: DeliveryContext,
  ): Promise<{ outcomes: RecordOutcome[]; retryAfterMs?: number }> {
    const answer = await this.#throughBreaker(() => this.#send(records, idempotencyKey, context), context);
    const outcomes = outcomesOf(
      answer.answer,
      this.#config.responses,
      this.#config.per_record,
      records.length,
    );
    await this.#shared?.recordHttpCall({
      runId: context.runId,
      job: context.job,
      unitUri: context.unitUri,
      endpoint: this.url,
      batchKey: idempotencyKey,
      attempt,
      status: answer.answer.status,
      requestId: answer.requestId,
      latencyMs: answer.latencyMs,
      records: records.length,
      outcome: tally(outcomes),
    });
    if (answer.answer.status === 429 && this.#limiter)
      await this.#limiter.backOff(answer.retryAfterMs ?? 1000);
    return { outcomes, retryAfterMs: answer.retryAfterMs };
  }

  /** Holds while the circuit is open: records wait for the API to recover instead of failing. */
  async #throughBreaker(send: () => Promise<Sent>, context: DeliveryContext): Promise<Sent> {
    for (;;) {
      try {
        return await this.#breaker.execute(async () => {
          const result = await send();
          const { status } = result.answer;
          if (status === 0 || status >= 500) throw new FailedCall(result);
          return result;
        });
      } catch (error) {
        if (error instanceof FailedCall) return error.sent;
        if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
          await sleep(Math.min(1000, this.#sink.circuit_breaker.half_open_after_seconds * 250), undefined, {
            signal: context.signal,
          });
          continue;
        }
        throw error;
      }
    }
  }

  async #send(
    records: Record<string, unknown>[],
    idempotencyKey: string,
    context: DeliveryContext,
  ): Promise<Sent> {
    this.#allowed ??= refusePrivateAddress(this.url, `http sink ${this.name}`, this.#allowPrivate);
    await this.#allowed;
    await this.#limiter?.acquire(context.signal);
    const url = new URL(this.#config.url);
    const headers = new Headers({ 'content-type': 'application/json', ...this.#config.headers });
    if (this.#sink.idempotency_header) headers.set(this.#sink.idempotency_header, idempotencyKey);
    await this.#auth.apply(url, headers, context.signal);
    const body = JSON.stringify(
      this.#config.body === 'record'
        ? records[0]
        : this.#config.body === 'array'
          ? records
          : { [this.#config.body.wrap]: records },
    );
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(url, {
        method: this.#config.method,
        headers,
        body,
        signal: AbortSignal.any([context.signal, AbortSignal.timeout(this.#sink.timeout_seconds * 1000)]),
      });
    } catch (error) {
      context.signal.throwIfAborted();
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${this.#sink.timeout_seconds}s`
          : String((error as Error).cause ?? (error as Error).message);
      return {
        answer: { status: 0, body: null, error: reason },
        requestId: null,
        latencyMs: performance.now() - started,
      };
    }
    const text = await response.text().catch(() => '');
    const latencyMs = performance.now() - started;
    if (response.status === 401) this.#auth.invalidate();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return {
      answer: { status: response.status, body: parsed },
      requestId: response.headers.get('x-request-id'),
      latencyMs,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()) ?? undefined,
    };
  }
}

function tally(outcomes: RecordOutcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) {
    const label =
      o.outcome === 'route'
        ? `route:${o.to}`
        : o.outcome === 'fail' || o.outcome === 'retry'
          ? `${o.outcome}:${o.code}`
          : o.outcome;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, n]) => `${n} ${label}`).join(', ');
}
