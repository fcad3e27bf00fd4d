import pRetry from 'p-retry';
import { isTransient } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

export interface RetryOptions {
  /** What is being attempted, for the log. */
  what: string;
  logger: Logger;
  signal?: AbortSignal;
  retries?: number;
  minTimeoutMs?: number;
}

/**
 * Retries `operation` on transient errors with exponential backoff and jitter, logging
 * each failed attempt (`retry.attempt`); other errors are thrown at once.
 */
export function withRetry<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  return pRetry(operation, {
    retries: options.retries ?? 5,
    factor: 2,
    minTimeout: options.minTimeoutMs ?? 100,
    maxTimeout: 10_000,
    randomize: true,
    signal: options.signal,
    shouldRetry: ({ error }) => isTransient(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (!isTransient(error)) return;
      options.logger.warn(
        { what: options.what, attempt: attemptNumber, retries_left: retriesLeft, error: error.message },
        'retry.attempt',
      );
    },
  });
}
