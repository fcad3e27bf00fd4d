import { Cron } from 'croner';
import { z } from 'zod';

const scheduleObject = z
  .object({
    cron: z.string().min(1).describe('Cron expression: 5 fields, or 6 with seconds first.'),
    timezone: z
      .string()
      .optional()
      .describe('IANA time zone the expression is read in, e.g. Europe/Amsterdam; default UTC.'),
    missed: z
      .enum(['skip', 'run_once'])
      .default('skip')
      .describe('Ticks missed while no service was up: skip them, or run once for all of them.'),
  })
  .strict();

/** A job's schedule: a cron string, or {cron, timezone, missed}. Validated with the cron library itself. */
export const scheduleSchema = z
  .union([z.string().min(1), scheduleObject])
  .superRefine((value, ctx) => {
    const { cron, timezone } = typeof value === 'string' ? { cron: value, timezone: undefined } : value;
    try {
      new Cron(cron, { timezone: timezone ?? 'UTC', paused: true });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `not a valid schedule: ${(error as Error).message}` });
    }
  })
  .describe(
    'Run the job on a cron schedule (in UTC unless a timezone is given); each tick fires once across service processes.',
  );

export interface Schedule {
  cron: string;
  timezone: string;
  missed: 'skip' | 'run_once';
}

export function normalizeSchedule(value: z.output<typeof scheduleSchema>): Schedule {
  if (typeof value === 'string') return { cron: value, timezone: 'UTC', missed: 'skip' };
  return { cron: value.cron, timezone: value.timezone ?? 'UTC', missed: value.missed };
}

/** The ticks of a schedule after `since` and at or before `until`, oldest first (at most `limit`). */
export function ticksBetween(schedule: Schedule, since: Date, until: Date, limit = 1000): Date[] {
  const pattern = new Cron(schedule.cron, { timezone: schedule.timezone, paused: true });
  const ticks: Date[] = [];
  let cursor: Date | null = since;
  while (ticks.length < limit) {
    cursor = pattern.nextRun(cursor);
    if (!cursor || cursor > until) break;
    ticks.push(cursor);
  }
  return ticks;
}
