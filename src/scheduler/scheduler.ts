import { hostname } from 'node:os';
import type { JobSpec } from '../connectors/registry.ts';
import { InletError, toInletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { normalizeSchedule, type Schedule, ticksBetween } from '../engine/schedule-spec.ts';
import { watchIntervalMs } from '../engine/trigger-spec.ts';
import type { Alerter } from '../observability/alerts.ts';
import type { JobVersion, MetadataStore } from '../store/store.ts';

/** What the scheduler needs to start runs (the service's RunLauncher is one). */
export interface RunStarter {
  resolveSpec(jobId: string, sourceText: string): Promise<JobSpec>;
  baseDirOf(job: { baseDir: string | null }): string;
  start(spec: JobSpec, baseDir: string, options: { actor?: string }): Promise<string>;
  /** True when a watched job's source has settled files its ledger has not committed. */
  hasNewFiles(spec: JobSpec, baseDir: string): Promise<boolean>;
  /** Applies the job's archive lifecycle rule; returns how many archives expired. */
  housekeep(spec: JobSpec, baseDir: string): Promise<number>;
}

/** How often archive lifecycle rules are applied. */
const HOUSEKEEPING_MS = 3_600_000;

export interface SchedulerOptions {
  store: MetadataStore;
  launcher: RunStarter;
  logger: Logger;
  /** Checks each job's freshness window on every poll. */
  alerter?: Pick<Alerter, 'checkFreshness'>;
  /** How often the schedules are checked. */
  pollMs?: number;
  /** A tick older than this when first seen counts as missed (the service was down). */
  graceMs?: number;
  /** The clock, for tests. */
  now?: () => Date;
}

/**
 * Fires scheduled runs. Every poll it looks, per job with a schedule, for ticks since the
 * job's last claimed tick; a tick is claimed in the store before its run starts, so when
 * several service processes share the store each tick fires in exactly one of them. A job
 * never overlaps itself: a tick that finds the job still running is recorded as skipped.
 */
export class Scheduler {
  readonly #options: Required<Omit<SchedulerOptions, 'now' | 'alerter'>> &
    Pick<SchedulerOptions, 'alerter'> & { now: () => Date };
  readonly #startedAt: Date;
  readonly #processId = `${hostname()}:${process.pid}`;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> = Promise.resolve();
  /** Watch polls and housekeeping still running, awaited on stop. */
  readonly #background = new Set<Promise<unknown>>();

  constructor(options: SchedulerOptions) {
    this.#options = { pollMs: 1000, graceMs: 5000, now: () => new Date(), ...options };
    this.#startedAt = this.#options.now();
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#polling = this.#polling.then(() => this.poll());
    }, this.#options.pollMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#polling;
    await Promise.allSettled(this.#background);
  }

  /** One pass over every scheduled job. */
  async poll(): Promise<void> {
    for (const job of await this.#options.store.listJobs()) {
      try {
        await this.#pollJob(job);
      } catch (error) {
        this.#options.logger.error({ job: job.jobId, error: toInletError(error).message }, 'schedule.error');
      }
    }
  }

  async #pollJob(job: JobVersion): Promise<void> {
    const { store, launcher, graceMs } = this.#options;
    const spec = await launcher.resolveSpec(job.jobId, job.sourceText);
    await this.#options.alerter?.checkFreshness(spec, this.#startedAt);
    const watchMs = watchIntervalMs(spec.trigger);
    if (watchMs) await this.#every(job, `${job.jobId}#watch`, watchMs, () => this.#watch(job, spec));
    if (spec.on_success?.archive?.lifecycle) {
      await this.#every(job, `${job.jobId}#housekeeping`, HOUSEKEEPING_MS, async () => {
        const expired = await launcher.housekeep(spec, launcher.baseDirOf(job));
        return `${expired} archive(s) expired`;
      });
    }
    if (!spec.schedule) return;
    const schedule = normalizeSchedule(spec.schedule);
    const now = this.#options.now();
    const last = await store.lastTick(job.jobId);
    const since = last ? new Date(last) : this.#startedAt;
    const due = ticksBetween(schedule, since, now);
    const latest = due.at(-1);
    if (!latest) return;
    const current = now.getTime() - latest.getTime() <= graceMs;
    if (current || schedule.missed === 'run_once')
      await this.#fire(job, spec, latest, current ? 'tick' : `${due.length} missed tick(s)`);
    else await this.#skip(job.jobId, latest, schedule, due.length);
  }

  async #fire(job: JobVersion, spec: JobSpec, tick: Date, why: string): Promise<void> {
    const { store, launcher, logger } = this.#options;
    const tickAt = tick.toISOString();
    if (!(await store.claimTick(job.jobId, tickAt, this.#processId))) return;
    try {
      const runId = await launcher.start(spec, launcher.baseDirOf(job), { actor: 'scheduler' });
      await store.settleTick(job.jobId, tickAt, 'started', runId);
      logger.info({ job: job.jobId, tick: tickAt, run_id: runId, why }, 'schedule.fired');
    } catch (error) {
      const failure = toInletError(error);
      const outcome =
        failure instanceof InletError && failure.code === 'INLET_E_JOB_LOCKED'
          ? 'skipped: the job was still running'
          : `failed: ${failure.message}`;
      await store.settleTick(job.jobId, tickAt, outcome, null);
      logger.warn({ job: job.jobId, tick: tickAt, outcome }, 'schedule.not_fired');
    }
  }

  /**
   * Runs `task` once per `intervalMs` period across every process sharing the store: the
   * period's start is claimed like a cron tick (under its own key), then the task runs in
   * the background so a slow listing never holds up other jobs' schedules.
   */
  async #every(job: JobVersion, key: string, intervalMs: number, task: () => Promise<string>): Promise<void> {
    const { store, logger } = this.#options;
    const period = new Date(Math.floor(this.#options.now().getTime() / intervalMs) * intervalMs);
    const last = await store.lastTick(key);
    if (last && new Date(last) >= period) return;
    const tickAt = period.toISOString();
    if (!(await store.claimTick(key, tickAt, this.#processId))) return;
    const settled = task().then(
      (outcome) => store.settleTick(key, tickAt, outcome, null),
      (error) => {
        const message = toInletError(error).message;
        logger.warn({ job: job.jobId, task: key, error: message }, 'schedule.task_failed');
        return store.settleTick(key, tickAt, `failed: ${message}`, null);
      },
    );
    this.#background.add(settled);
    void settled.finally(() => this.#background.delete(settled));
  }

  /** One poll of a watched job: a run starts only when settled new files are there. */
  async #watch(job: JobVersion, spec: JobSpec): Promise<string> {
    const { launcher, logger } = this.#options;
    const baseDir = launcher.baseDirOf(job);
    if (!(await launcher.hasNewFiles(spec, baseDir))) return 'nothing new';
    try {
      const runId = await launcher.start(spec, baseDir, { actor: 'watch' });
      logger.info({ job: job.jobId, run_id: runId }, 'watch.fired');
      return `started ${runId}`;
    } catch (error) {
      const failure = toInletError(error);
      if (failure.code === 'INLET_E_JOB_LOCKED') return 'skipped: the job was still running';
      throw failure;
    }
  }

  /** Records missed ticks as skipped (policy `skip`), so they are not considered again. */
  async #skip(jobId: string, tick: Date, schedule: Schedule, count: number): Promise<void> {
    const tickAt = tick.toISOString();
    if (!(await this.#options.store.claimTick(jobId, tickAt, this.#processId))) return;
    await this.#options.store.settleTick(
      jobId,
      tickAt,
      `skipped: ${count} tick(s) missed while down (missed: ${schedule.missed})`,
      null,
    );
    this.#options.logger.warn({ job: jobId, missed: count, last_missed: tickAt }, 'schedule.missed');
  }
}
