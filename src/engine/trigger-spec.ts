import { z } from 'zod';
import { duration, durationMs } from './alert-spec.ts';

/** The default poll interval of a watched landing folder (seed 001: every 5 minutes). */
export const DEFAULT_WATCH_INTERVAL = '5m';

/** How a job starts besides `schedule` and the API: `watch` polls its source folder for new files. */
export const triggerSchema = z
  .union([
    z.literal('manual').describe('Only when asked (CLI, API, schedule).'),
    z
      .literal('watch')
      .describe(`Poll the source every ${DEFAULT_WATCH_INTERVAL}; run when new files settled.`),
    z
      .object({
        watch: z
          .object({
            interval: duration.default(DEFAULT_WATCH_INTERVAL).describe('How often the source is polled.'),
          })
          .strict(),
      })
      .strict()
      .describe('Poll the source at this interval; run when new files settled.'),
  ])
  .describe('What starts the job in `inlet serve`: manual (default) or watch.');

export type TriggerSpec = z.output<typeof triggerSchema>;

/** The poll interval of a watched job in ms, or null when the job is not watched. */
export function watchIntervalMs(trigger: TriggerSpec | undefined): number | null {
  if (trigger === undefined || trigger === 'manual') return null;
  return durationMs(trigger === 'watch' ? DEFAULT_WATCH_INTERVAL : trigger.watch.interval);
}
