import { z } from 'zod';

const channelSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('webhook'),
      url: z.url().describe('Receives a Slack-compatible JSON POST ({text, …}).'),
    })
    .strict(),
  z
    .object({
      type: z.literal('email'),
      to: z.array(z.email()).min(1).describe('Recipients; sent over SMTP (INLET_SMTP_URL).'),
    })
    .strict(),
]);

/** A duration in job files: 30s, 5m, 26h, 2d. */
export const duration = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'a duration such as 90m, 26h or 2d')
  .describe('A duration: number followed by s, m, h or d.');

/** A job's alerts: which conditions raise one, and where it is delivered. */
export const alertsSchema = z
  .object({
    on_failure: z.boolean().default(true).describe('A run failed.'),
    on_zero_records: z.boolean().default(false).describe('A run succeeded but received no record at all.'),
    quarantine_ratio_above: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Quarantined / received of a run exceeds this fraction (e.g. 0.05).'),
    freshness: duration.optional().describe('No successful run for this long.'),
    channels: z.array(channelSchema).min(1),
  })
  .strict()
  .describe('Alerts raised by this job, delivered to a webhook and/or by e-mail, retried and recorded.');

export type AlertsSpec = z.output<typeof alertsSchema>;
export type AlertChannel = AlertsSpec['channels'][number];

export function durationMs(value: string): number {
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[value.at(-1) as 's' | 'm' | 'h' | 'd'];
  return Number(value.slice(0, -1)) * unit;
}
