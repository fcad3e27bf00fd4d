import { JSONPath } from 'jsonpath-plus';
import type { ResponseRule } from './schema.ts';

/** What happens to one record after a call. */
export type RecordOutcome =
  | { outcome: 'success' }
  | { outcome: 'route'; to: string }
  | { outcome: 'retry'; code: string; reason: string }
  | { outcome: 'fail'; code: string; reason: string };

/** An answer as the rules see it; status 0 for a call that got no answer (network error, timeout). */
export interface CallAnswer {
  status: number;
  body: unknown;
  /** Why there was no usable answer, for the record of a network failure. */
  error?: string;
}

function first(path: string, json: unknown): unknown {
  if (json === null || typeof json !== 'object') return undefined;
  const found = JSONPath({ path, json: json as object, wrap: true }) as unknown[];
  return found[0];
}

function statusMatches(expected: ResponseRule['when']['status'], status: number): boolean {
  // A rule without a status is about what a successful answer says (APIs that answer 200
  // with an error code): a 503 or a timeout must not fall into a catch-all and lose its retry.
  if (expected === undefined) return status >= 200 && status < 300;
  if (typeof expected === 'number') return expected === status;
  if (Array.isArray(expected)) return expected.includes(status);
  return Math.floor(status / 100) === Number(expected[0]);
}

function bodyMatches(conditions: ResponseRule['when']['body'], json: unknown): boolean {
  for (const [path, expected] of Object.entries(conditions ?? {})) {
    const actual = first(path, json);
    const allowed = Array.isArray(expected) ? expected : [expected];
    // Codes arrive as numbers or strings depending on the API: compare them as text.
    if (!allowed.some((value) => String(value) === String(actual))) return false;
  }
  return true;
}

function describe(
  rule: ResponseRule | undefined,
  answer: CallAnswer,
  json: unknown,
): { code: string; reason: string } {
  const code = rule?.code ? first(rule.code, json) : undefined;
  const message = rule?.message ? first(rule.message, json) : undefined;
  const fallbackCode =
    answer.status === 0
      ? 'NETWORK'
      : String(first('$.code', json) ?? first('$.error', json) ?? answer.status);
  const fallbackMessage =
    answer.error ?? first('$.message', json) ?? first('$.error', json) ?? `HTTP ${answer.status}`;
  return { code: String(code ?? fallbackCode), reason: String(message ?? fallbackMessage) };
}

function decide(rules: readonly ResponseRule[], answer: CallAnswer, json: unknown): RecordOutcome {
  const rule = rules.find(
    (r) => statusMatches(r.when.status, answer.status) && bodyMatches(r.when.body, json),
  );
  const outcome = rule?.outcome ?? defaultOutcome(answer.status);
  if (outcome === 'success') return { outcome };
  if (outcome === 'route') return { outcome, to: rule?.to ?? '' };
  return { outcome, ...describe(rule, answer, json) };
}

/** Unmatched answers: 2xx succeed, 429, 5xx and no answer at all are retried, other 4xx fail. */
function defaultOutcome(status: number): RecordOutcome['outcome'] {
  if (status >= 200 && status < 300) return 'success';
  if (status === 0 || status === 429 || status >= 500) return 'retry';
  return 'fail';
}

/**
 * Decides every record's outcome from one answer: per record when the endpoint answers per
 * record (`per_record`) with a 2xx, otherwise one decision for the whole batch.
 */
export function outcomesOf(
  answer: CallAnswer,
  rules: readonly ResponseRule[],
  perRecord: string | undefined,
  records: number,
): RecordOutcome[] {
  if (
    perRecord &&
    answer.status >= 200 &&
    answer.status < 300 &&
    answer.body &&
    typeof answer.body === 'object'
  ) {
    const items = JSONPath({ path: perRecord, json: answer.body as object, wrap: true }) as unknown[];
    if (items.length === records) return items.map((item) => decide(rules, answer, item));
    const reason = `the response has ${items.length} per-record results at ${perRecord} for ${records} records`;
    return Array.from(
      { length: records },
      () => ({ outcome: 'fail', code: 'BAD_RESPONSE', reason }) as const,
    );
  }
  const decision = decide(rules, answer, answer.body);
  return Array.from({ length: records }, () => decision);
}
