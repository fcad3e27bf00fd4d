import { type JobSpec, jobSchema } from '../connectors/registry.ts';
import { createRunnableJob } from '../connectors/runnable-job.ts';
import type { Source } from '../core/connector.ts';
import { InletError, toInletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { loadConnections } from '../engine/connections.ts';
import { newRunId } from '../engine/ids.ts';
import { parseJobText } from '../engine/job-file.ts';
import {
  closeConnections,
  housekeepJob,
  type RunProgress,
  runJob,
  type UnitSummary,
} from '../engine/run-job.ts';
import type { SecretBox } from '../engine/secret-box.ts';
import { wouldRoute } from '../engine/segregate.ts';
import type { Alerter } from '../observability/alerts.ts';
import { createLogger, runLogPath } from '../observability/logger.ts';
import type { InletMetrics } from '../observability/metrics.ts';
import type { MetadataStore } from '../store/store.ts';

export interface LauncherOptions {
  store: MetadataStore;
  dataDir: string;
  /** Relative paths in jobs defined over the API resolve against this folder. */
  workspace: string;
  memoryLimit: string;
  threads?: number;
  /** The service's logger; each run also gets its own log file (GET /runs/{id}/logs). */
  logger: Logger;
  logLevel: string;
  metrics: InletMetrics;
  /** Opens the stored connections jobs refer to. */
  secrets: SecretBox;
  /** Raises the job's alerts when a run ends. */
  alerter?: Alerter;
}

/** A running run's progress as the API shows it. */
export interface LiveProgress {
  stage: string;
  units_done: number;
  units_total: number;
  rows: number;
  rows_per_second: number;
}

/** Starts runs in the background for the API and keeps track of them, to cancel or wait for. */
export class RunLauncher {
  readonly #options: LauncherOptions;
  readonly #running = new Map<
    string,
    { controller: AbortController; done: Promise<unknown>; progress?: RunProgress; startedAt: number }
  >();

  constructor(options: LauncherOptions) {
    this.#options = options;
  }

  /** Parses a job's stored text with parameter overrides (like `inlet run --set`). */
  async resolveSpec(
    jobId: string,
    sourceText: string,
    parameters: Record<string, unknown> = {},
  ): Promise<JobSpec> {
    const overrides = Object.entries(parameters).map(([path, value]) => `${path}=${JSON.stringify(value)}`);
    const connections = await loadConnections(this.#options.store, this.#options.secrets);
    return parseJobText(sourceText, jobSchema, {
      baseDir: this.#options.workspace,
      source: `job ${jobId}`,
      overrides,
      connections,
    }).spec;
  }

  /** The folder a stored job's relative paths resolve against. */
  baseDirOf(job: { baseDir: string | null }): string {
    return job.baseDir ?? this.#options.workspace;
  }

  /**
   * Starts a run and resolves with its id once it holds the job's lock and is recorded;
   * rejects (INLET_E_JOB_LOCKED) when the job is already running.
   */
  async start(
    spec: JobSpec,
    baseDir: string,
    options: { reprocess?: boolean; actor?: string; source?: Source } = {},
  ): Promise<string> {
    const { store, dataDir } = this.#options;
    const runId = newRunId();
    const runLog = createLogger({ level: this.#options.logLevel, file: runLogPath(dataDir, runId) });
    const { logger } = runLog;
    const controller = new AbortController();
    let started!: () => void;
    const recorded = new Promise<void>((resolve) => {
      started = resolve;
    });
    const job = createRunnableJob(spec, baseDir, logger, store);
    const done = runJob(options.source ? { ...job, source: options.source } : job, {
      store,
      dataDir,
      logger,
      runId,
      reprocess: options.reprocess,
      actor: options.actor,
      memoryLimit: spec.engine?.memory_limit ?? this.#options.memoryLimit,
      threads: spec.engine?.threads ?? this.#options.threads,
      signal: controller.signal,
      onProgress: (progress) => {
        const run = this.#running.get(runId);
        if (run) run.progress = progress;
        started();
      },
    });
    const startedAt = Date.now();
    this.#running.set(runId, { controller, done, startedAt });
    done
      .then(async (summary) => {
        this.#options.metrics.recordRun({
          job: summary.job,
          status: summary.status,
          durationSeconds: (Date.now() - startedAt) / 1000,
          finishedAt: new Date(),
          counts: summary.counts,
          units: summary.units,
        });
        await this.#options.alerter?.onRunFinished(spec, summary);
        if (spec.segregate) await this.#startRoutedJobs(spec.name, summary.units, logger);
      })
      .catch(async (error) => {
        const failure = toInletError(error);
        logger.error({ run_id: runId, error: failure.message }, 'run.failed');
        if (controller.signal.aborted) return;
        const counts = { received: 0, written: 0, quarantined: 0, filtered: 0 };
        await this.#options.alerter?.onRunFinished(spec, {
          run_id: runId,
          job: spec.name,
          status: 'failed',
          counts,
          error: failure.message,
        });
      })
      .finally(() => {
        this.#running.delete(runId);
        return runLog.close();
      });
    await Promise.race([recorded, done]);
    return runId;
  }

  /** True when a watched job's source has settled files the job's ledger has not committed as they are. */
  async hasNewFiles(spec: JobSpec, baseDir: string): Promise<boolean> {
    const job = createRunnableJob(spec, baseDir, this.#options.logger.child({ job: spec.name }));
    try {
      for (const unit of await job.source.list(new AbortController().signal)) {
        if (job.segregate && job.source.origin) {
          if (wouldRoute(job.source.origin, unit, job.segregate)) return true;
          continue;
        }
        const done = await this.#options.store.lastCommittedUnit(spec.name, unit.uri);
        if (done?.size !== unit.size || done.mtimeMs !== unit.mtimeMs) return true;
      }
      return false;
    } finally {
      await closeConnections(job, this.#options.logger);
    }
  }

  /** Applies the job's archive lifecycle rule (archives older than N days deleted or moved). */
  async housekeep(spec: JobSpec, baseDir: string): Promise<number> {
    return housekeepJob(
      createRunnableJob(spec, baseDir, this.#options.logger.child({ job: spec.name })),
      this.#options.logger,
    );
  }

  /** After a landing-zone run: starts each job files were routed to (once, however many files). */
  async #startRoutedJobs(router: string, units: UnitSummary[], logger: Logger): Promise<void> {
    const names = new Set(units.flatMap((unit) => (unit.routed?.job ? [unit.routed.job] : [])));
    for (const name of names) {
      try {
        const job = await this.#options.store.getJob(name);
        if (!job) throw new InletError('INLET_E_JOB_NOT_FOUND', `no job named ${name}`);
        const spec = await this.resolveSpec(job.jobId, job.sourceText);
        const runId = await this.start(spec, this.baseDirOf(job), { actor: `segregate:${router}` });
        logger.info({ for_job: name, started_run: runId }, 'segregate.job_started');
      } catch (error) {
        // A job already running takes the routed files on its next run (or watch poll).
        logger.warn({ for_job: name, error: toInletError(error).message }, 'segregate.job_not_started');
      }
    }
  }

  /** Where a run running here stands: stage, units and rows done, rows/s. */
  progress(runId: string): LiveProgress | undefined {
    const run = this.#running.get(runId);
    if (!run?.progress) return undefined;
    const seconds = (Date.now() - run.startedAt) / 1000;
    const { stage, unitsDone, unitsTotal, rows } = run.progress;
    return {
      stage,
      units_done: unitsDone,
      units_total: unitsTotal,
      rows,
      rows_per_second: seconds > 0 ? Math.round(rows / seconds) : 0,
    };
  }

  /** True while the run executes in this service. */
  isRunning(runId: string): boolean {
    return this.#running.has(runId);
  }

  /** Asks a running run to stop; it ends as interrupted. False when it is not running here. */
  cancel(runId: string): boolean {
    const run = this.#running.get(runId);
    if (!run) return false;
    run.controller.abort(new InletError('INLET_E_INTERRUPTED', 'cancelled through the API'));
    return true;
  }

  /** Stops every run (they end as interrupted, to be resumed) and waits for them. */
  async shutdown(): Promise<void> {
    for (const run of this.#running.values())
      run.controller.abort(new InletError('INLET_E_INTERRUPTED', 'the service is shutting down'));
    await Promise.allSettled([...this.#running.values()].map((run) => run.done));
  }
}
