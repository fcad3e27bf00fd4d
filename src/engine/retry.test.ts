import assert from 'node:assert/strict';
import { it } from 'node:test';
import { InletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { withRetry } from './retry.ts';

function recordingLogger(events: Record<string, unknown>[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (fields, event) => events.push({ event, ...fields }),
    error: () => {},
    child: () => logger,
  };
  return logger;
}

it('retries transient errors with logged attempts until the operation succeeds', async () => {
  const events: Record<string, unknown>[] = [];
  let calls = 0;
  const result = await withRetry(
    async () => {
      calls++;
      if (calls < 3) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      return 'done';
    },
    { what: 'read thing', logger: recordingLogger(events), minTimeoutMs: 1 },
  );
  assert.equal(result, 'done');
  assert.equal(calls, 3);
  assert.deepEqual(
    events.map((e) => [e.event, e.what, e.attempt]),
    [
      ['retry.attempt', 'read thing', 1],
      ['retry.attempt', 'read thing', 2],
    ],
  );
});

it('does not retry errors that will not go away, and gives up after the last attempt', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw new InletError('INLET_E_PARSE', 'bad bytes');
      },
      { what: 'x', logger: recordingLogger([]), minTimeoutMs: 1 },
    ),
    /bad bytes/,
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw Object.assign(new Error('busy'), { code: 'EBUSY' });
      },
      { what: 'x', logger: recordingLogger([]), minTimeoutMs: 1, retries: 2 },
    ),
    /busy/,
  );
  assert.equal(calls, 3);
});
