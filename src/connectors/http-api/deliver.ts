import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  DeliverySummary,
  RejectedRecord,
  SharedState,
  SinkInput,
  SqlSession,
} from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { failpoint } from '../../engine/failpoint.ts';
import type { Endpoint } from './endpoint.ts';
import type { RecordOutcome } from './responses.ts';
import type { HttpSinkConfig } from './schema.ts';

/** A record on its way, with the line it came from. */
interface Pending {
  line: number | null;
  record: Record<string, unknown>;
}

/** The final fate of one record of a batch, as saved for resuming an interrupted delivery. */
type Final = { o: 'success' } | { o: 'routed'; to: string } | { o: 'fail'; code: string; reason: string };

export interface DeliveryContext {
  job: string;
  runId: string;
  unitUri: string;
  shared?: SharedState;
  logger: Logger;
  signal: AbortSignal;
}

/** How deep routes may chain (a → b → c) before a record fails instead of looping. */
const MAX_ROUTE_DEPTH = 3;

/**
 * Delivers one unit's rows: reads them in source order, cuts batches by count and bytes,
 * sends up to `concurrency` at once, and follows the response rules (retry, route, fail).
 * Each batch has a key derived from the unit's content and the batch's records; once a
 * batch's final outcomes are saved in the store, a rerun after a crash takes them from
 * there instead of sending the batch again.
 */
export async function deliverUnit(
  config: HttpSinkConfig,
  endpoints: { main: Endpoint; routes: Map<string, Endpoint> },
  session: SqlSession,
  input: SinkInput,
  context: DeliveryContext,
): Promise<{ delivered: number; rejected: RejectedRecord[]; summary: DeliverySummary }> {
  const summary: DeliverySummary = {
    sent: 0,
    succeeded: 0,
    routed: {},
    failedByCode: {},
    calls: 0,
    retries: 0,
    replayedBatches: 0,
  };
  const rejected: RejectedRecord[] = [];
  let delivered = 0;

  const settle = (batch: Pending[], finals: Final[]) => {
    for (const [i, final] of finals.entries()) {
      if (final.o === 'fail') {
        summary.failedByCode[final.code] = (summary.failedByCode[final.code] ?? 0) + 1;
        rejected.push({
          line: batch[i].line,
          code: final.code,
          reason: final.reason,
          record: batch[i].record,
        });
      } else {
        delivered += 1;
        if (final.o === 'routed') summary.routed[final.to] = (summary.routed[final.to] ?? 0) + 1;
        else summary.succeeded += 1;
      }
    }
  };

  /** Sends records to an endpoint until each has a final outcome, following routes. */
  const resolve = async (
    endpoint: Endpoint,
    batch: Pending[],
    key: string,
    depth: number,
  ): Promise<Final[]> => {
    if (depth === 0) summary.sent += batch.length;
    const outcomes = await sendUntilFinal(endpoint, batch, key, config, context, summary);
    const finals: Final[] = new Array(batch.length);
    const byRoute = new Map<string, number[]>();
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.outcome === 'success') finals[i] = { o: 'success' };
      else if (outcome.outcome === 'route') {
        const target = endpoints.routes.get(outcome.to);
        if (!target || depth >= MAX_ROUTE_DEPTH) {
          finals[i] = {
            o: 'fail',
            code: 'ROUTE',
            reason: target ? `routed more than ${MAX_ROUTE_DEPTH} times` : `no route named ${outcome.to}`,
          };
        } else byRoute.set(outcome.to, [...(byRoute.get(outcome.to) ?? []), i]);
      } else finals[i] = { o: 'fail', code: outcome.code, reason: outcome.reason };
    }
    for (const [name, indices] of byRoute) {
      const routed = await resolve(
        endpoints.routes.get(name)!,
        indices.map((i) => batch[i]),
        `${key}>${name}`,
        depth + 1,
      );
      for (const [j, final] of routed.entries())
        finals[indices[j]] = final.o === 'success' ? { o: 'routed', to: name } : final;
    }
    return finals;
  };

  const deliverBatch = async (batch: Pending[], number: number) => {
    const key = batchKey(context.job, endpoints.main.url, input.contentHash, number, batch);
    const saved = await context.shared?.deliveredBatch(key);
    if (saved) {
      summary.replayedBatches += 1;
      settle(batch, JSON.parse(saved) as Final[]);
      return;
    }
    const finals = await resolve(endpoints.main, batch, key, 0);
    await context.shared?.saveDeliveredBatch(key, context.job, JSON.stringify(finals));
    failpoint('http.batch_delivered');
    settle(batch, finals);
  };

  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const launch = (batch: Pending[], number: number) => {
    const task = deliverBatch(batch, number).catch((error) => {
      failure ??= error;
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  };

  let batch: Pending[] = [];
  let bytes = 2;
  let number = 0;
  const perCall = config.body === 'record' ? 1 : config.batch.max_records;
  for await (const rows of session.stream(`SELECT * FROM (${input.linedRelation})`)) {
    for (const row of rows) {
      const { __inlet_line: line, ...record } = row;
      const size = JSON.stringify(record).length + 1;
      if (batch.length && (batch.length >= perCall || bytes + size > config.batch.max_bytes)) {
        launch(batch, number++);
        batch = [];
        bytes = 2;
        // Bounded memory: at most `concurrency` batches in flight and one being filled.
        while (inFlight.size >= config.concurrency) await Promise.race(inFlight);
        if (failure) throw failure;
      }
      batch.push({ line: line === null || line === undefined ? null : Number(line), record });
      bytes += size;
    }
  }
  if (batch.length) launch(batch, number++);
  await Promise.all(inFlight);
  if (failure) throw failure;
  rejected.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  context.logger.info({ endpoint: endpoints.main.url, batches: number, ...summary }, 'http.delivered');
  return { delivered, rejected, summary };
}

/** Stable across reruns of the same file: job, endpoint, the file's content, the batch's place and records. */
function batchKey(job: string, url: string, contentHash: string, number: number, batch: Pending[]): string {
  const hash = createHash('sha256').update(`${job}\n${url}\n${contentHash}\n${number}\n`);
  for (const { record } of batch) hash.update(JSON.stringify(record)).update('\n');
  return hash.digest('hex').slice(0, 40);
}

/**
 * Calls the endpoint until no record is left to retry: the whole batch again (same
 * idempotency key, so a lost response is not applied twice), or only the records the API
 * asked to retry (a new key). Records still asking for a retry after max_attempts fail.
 */
async function sendUntilFinal(
  endpoint: Endpoint,
  batch: Pending[],
  key: string,
  config: HttpSinkConfig,
  context: DeliveryContext,
  summary: DeliverySummary,
): Promise<RecordOutcome[]> {
  const finals: RecordOutcome[] = new Array(batch.length);
  let pending = batch.map((_, i) => i);
  let last: { code: string; reason: string } = { code: 'RETRY', reason: '' };
  for (let attempt = 1; pending.length && attempt <= config.retry.max_attempts; attempt++) {
    if (attempt > 1) summary.retries += 1;
    const partial = pending.length < batch.length;
    const answer = await endpoint.call(
      pending.map((i) => batch[i].record),
      partial ? `${key}.${attempt}` : key,
      attempt,
      context,
    );
    summary.calls += 1;
    const next: number[] = [];
    for (const [j, outcome] of answer.outcomes.entries()) {
      if (outcome.outcome === 'retry') {
        next.push(pending[j]);
        last = { code: outcome.code, reason: outcome.reason };
      } else finals[pending[j]] = outcome;
    }
    pending = next;
    if (pending.length && attempt < config.retry.max_attempts) {
      context.signal.throwIfAborted();
      await sleep(answer.retryAfterMs ?? backoff(attempt, config), undefined, { signal: context.signal });
    }
  }
  if (pending.length) {
    // Not the records' fault: the unit fails as transient and its file stays for the next run,
    // which resends only the batches not yet acknowledged.
    throw new InletError(
      'INLET_E_REMOTE',
      `${endpoint.url}: ${pending.length} record(s) still unanswered after ${config.retry.max_attempts} attempts (${last.code}: ${last.reason}); delivered batches are kept, the rest is sent next run`,
    );
  }
  if (finals.some((f) => f === undefined))
    throw new InletError('INLET_E_INTERNAL', 'a record was left without an outcome');
  return finals;
}

/** Exponential backoff with full jitter, capped. */
function backoff(attempt: number, config: HttpSinkConfig): number {
  const ceiling = Math.min(config.retry.max_delay_ms, config.retry.initial_delay_ms * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
