import { z } from 'zod';
import { InletError, isTransient } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { refusePrivateAddress } from './network-policy.ts';
import { withRetry } from './retry.ts';

/** Where a job publishes its reporting events (file outcomes, API response summaries, run reports). */
export const reportingSchema = z
  .object({
    webhook: z
      .object({
        url: z.string().url().describe('Receives each event as a JSON POST.'),
        headers: z
          .record(z.string(), z.string())
          .default({})
          .describe('e.g. an Authorization header for the collector.'),
      })
      .strict(),
  })
  .strict()
  .describe(
    'Publishes every file outcome, API response summary and run report as an event, for dashboards; delivery is retried and never fails the run.',
  );

export type ReportingSpec = z.output<typeof reportingSchema>;

/** A reporting event: `event` names it, the rest is its payload. */
export interface ReportEvent {
  event: 'file.outcome' | 'api.responses' | 'run.report';
  job: string;
  run_id: string;
  at: string;
  [field: string]: unknown;
}

export interface Reporter {
  publish(event: ReportEvent): Promise<void>;
}

/** Posts events to a webhook, retried on network errors and 5xx; a failure is logged, not thrown. */
export function createWebhookReporter(
  spec: ReportingSpec['webhook'],
  options: { allowPrivateNetworks: boolean; logger: Logger },
): Reporter {
  return {
    async publish(event) {
      try {
        await refusePrivateAddress(spec.url, 'reporting webhook', options.allowPrivateNetworks);
        await withRetry(
          async () => {
            const response = await fetch(spec.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...spec.headers },
              body: JSON.stringify(event),
              signal: AbortSignal.timeout(10_000),
            }).catch((error: unknown) => {
              throw new InletError('INLET_E_REMOTE', `reporting webhook: ${(error as Error).message}`);
            });
            if (response.status >= 500 || response.status === 429) {
              throw new InletError('INLET_E_REMOTE', `reporting webhook answered HTTP ${response.status}`);
            }
            if (!response.ok)
              throw new InletError('INLET_E_SINK', `reporting webhook answered HTTP ${response.status}`);
          },
          { what: 'publish a reporting event', logger: options.logger, retries: 3 },
        );
      } catch (error) {
        options.logger.warn(
          { report_event: event.event, error: (error as Error).message, transient: isTransient(error) },
          'reporting.failed',
        );
      }
    },
  };
}
