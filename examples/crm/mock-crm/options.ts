/** Behaviour of the mock CRM; every field but `port` and `host` can change while it runs. */
export interface MockCrmOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  host: string;
  /** Accepted API calls allowed in any rolling 60 s window, over all endpoints; 0 = unlimited. */
  callsPerMinute: number;
  latencyMs: number;
  /** Up to this many extra milliseconds, uniformly random, on top of `latencyMs`. */
  latencyJitterMs: number;
  /** Share of calls answered 503 without being applied. */
  failRate: number;
  /** Share of calls never answered and not applied. */
  timeoutRate: number;
  /** Share of calls applied, recorded under their key, and then answered by a dropped connection. */
  lostResponseRate: number;
  clientId: string;
  clientSecret: string;
  /** Most records one call may carry; more is a 413. */
  maxBatch: number;
  tokenTtlSeconds: number;
  /** Idempotency keys remembered (oldest forgotten first), which bounds the memory stored responses take. */
  idempotencyKeyLimit: number;
}

export const DEFAULT_OPTIONS: MockCrmOptions = {
  port: 0,
  host: '127.0.0.1',
  callsPerMinute: 1000,
  latencyMs: 0,
  latencyJitterMs: 0,
  failRate: 0,
  timeoutRate: 0,
  lostResponseRate: 0,
  clientId: 'inlet',
  clientSecret: 'inlet-secret',
  maxBatch: 100,
  tokenTtlSeconds: 3600,
  idempotencyKeyLimit: 20_000,
};

type Check = (value: unknown) => string | undefined;

const wholeNumber: Check = (v) =>
  Number.isInteger(v) && (v as number) >= 0 ? undefined : 'must be a whole number ≥ 0';
const positiveWholeNumber: Check = (v) =>
  Number.isInteger(v) && (v as number) >= 1 ? undefined : 'must be a whole number ≥ 1';
const rate: Check = (v) =>
  typeof v === 'number' && v >= 0 && v <= 1 ? undefined : 'must be a number between 0 and 1';
const text: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : 'must be a non-empty string');
const port: Check = (v) =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535 ? undefined : 'must be a port 0..65535';

const CHECKS: Record<keyof MockCrmOptions, Check> = {
  port,
  host: text,
  callsPerMinute: wholeNumber,
  latencyMs: wholeNumber,
  latencyJitterMs: wholeNumber,
  failRate: rate,
  timeoutRate: rate,
  lostResponseRate: rate,
  clientId: text,
  clientSecret: text,
  maxBatch: positiveWholeNumber,
  tokenTtlSeconds: positiveWholeNumber,
  idempotencyKeyLimit: positiveWholeNumber,
};

/** Options that only take effect when the server starts listening. */
const STARTUP_ONLY = new Set<string>(['port', 'host']);

/**
 * Checks a patch of options, throwing a message that names each bad field.
 * `atRuntime` refuses the options that cannot change on a listening server.
 */
export function validateOptions(patch: unknown, atRuntime: boolean): Partial<MockCrmOptions> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new Error('options must be a JSON object');
  }
  const problems: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    const check = CHECKS[key as keyof MockCrmOptions] as Check | undefined;
    if (check === undefined) problems.push(`${key}: unknown option`);
    else if (atRuntime && STARTUP_ONLY.has(key)) problems.push(`${key}: cannot change while running`);
    else {
      const problem = check(value);
      if (problem !== undefined) problems.push(`${key}: ${problem}`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid options: ${problems.join('; ')}`);
  return patch as Partial<MockCrmOptions>;
}
