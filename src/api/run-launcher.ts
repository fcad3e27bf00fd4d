import { type JobSpec, jobSchema } from '../connectors/registry.ts';
import { createRunnableJob } from '../connectors/runnable-job.ts';
import { InletError, toInletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { newRunId } from '../engine/ids.ts';
import { parseJobText } from '../engine/job-file.ts';
import { runJob } from '../engine/run-job.ts';
import type { InletMetrics } from '../observability/metrics.ts';
import type { MetadataStore } from '../store/store.ts';

export interface LauncherOptions {
  store: MetadataStore;
  dataDir: string;
  /** Relative paths in jobs defined over the API resolve against this folder. */
  workspace: string;
  memoryLimit: string;
  threads?: number;
  logger: Logger;
  metrics: InletMetrics;
}

/** Starts runs in the background for the API and keeps track of them, to cancel or wait for. */
export class RunLauncher {
  readonly #options: LauncherOptions;
  readonly #running = new Map<string, { controller: AbortController; done: Promise<unknown> }>();

  constructor(options: LauncherOptions) {
    this.#options = options;
  }

  /** Parses a job's stored text with parameter overrides (like `inlet run --set`). */
  resolveSpec(jobId: string, sourceText: string, parameters: Record<string, unknown> = {}): JobSpec {
    const overrides = Object.entries(parameters).map(([path, value]) => `${path}=${JSON.stringify(value)}`);
    return parseJobText(sourceText, jobSchema, {
      baseDir: this.#options.workspace,
      source: `job ${jobId}`,
      overrides,
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
    options: { reprocess?: boolean; actor?: string } = {},
  ): Promise<string> {
    const { store, dataDir, logger } = this.#options;
    const runId = newRunId();
    const controller = new AbortController();
    let started!: () => void;
    const recorded = new Promise<void>((resolve) => {
      started = resolve;
    });
    const done = runJob(createRunnableJob(spec, baseDir, logger), {
      store,
      dataDir,
      logger,
      runId,
      reprocess: options.reprocess,
      actor: options.actor,
      memoryLimit: spec.engine?.memory_limit ?? this.#options.memoryLimit,
      threads: spec.engine?.threads ?? this.#options.threads,
      signal: controller.signal,
      onProgress: () => started(),
    });
    this.#running.set(runId, { controller, done });
    const startedAt = Date.now();
    done
      .then((summary) =>
        this.#options.metrics.recordRun({
          job: summary.job,
          status: summary.status,
          durationSeconds: (Date.now() - startedAt) / 1000,
          finishedAt: new Date(),
          counts: summary.counts,
          units: summary.units,
        }),
      )
      .catch((error) => logger.error({ run_id: runId, error: toInletError(error).message }, 'run.failed'))
      .finally(() => this.#running.delete(runId));
    await Promise.race([recorded, done]);
    return runId;
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
