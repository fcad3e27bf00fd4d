import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What a finished run tells the metrics. */
export interface FinishedRun {
  job: string;
  status: string;
  durationSeconds: number;
  finishedAt: Date;
  counts: { received: number; written: number; quarantined: number; filtered: number };
  units: { status: string }[];
}

/**
 * The service's Prometheus metrics (names `inlet_<thing>_<unit>`, labels bounded to job,
 * stage, outcome, status). Counters start at zero with the process, as Prometheus expects;
 * the last-success gauge is seeded from the store so freshness survives a restart.
 */
export class InletMetrics {
  readonly registry = new Registry();
  readonly #records = new Counter({
    name: 'inlet_records_total',
    help: 'Records by job, the stage that decided their fate, and that fate.',
    labelNames: ['job', 'stage', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #runs = new Counter({
    name: 'inlet_runs_total',
    help: 'Finished runs by job and status.',
    labelNames: ['job', 'status'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'inlet_run_duration_seconds',
    help: 'Run wall time.',
    labelNames: ['job'] as const,
    buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  readonly #units = new Counter({
    name: 'inlet_units_total',
    help: 'Units (files, pages, batches) by job and status.',
    labelNames: ['job', 'status'] as const,
    registers: [this.registry],
  });
  readonly #lastSuccess = new Gauge({
    name: 'inlet_last_success_timestamp_seconds',
    help: 'When the job last finished a run successfully (Unix time).',
    labelNames: ['job'] as const,
    registers: [this.registry],
  });

  recordRun(run: FinishedRun): void {
    const { job, counts } = run;
    this.#runs.inc({ job, status: run.status });
    this.#duration.observe({ job }, run.durationSeconds);
    this.#records.inc({ job, stage: 'extract', outcome: 'received' }, counts.received);
    this.#records.inc({ job, stage: 'normalize', outcome: 'quarantined' }, counts.quarantined);
    this.#records.inc({ job, stage: 'normalize', outcome: 'filtered' }, counts.filtered);
    this.#records.inc({ job, stage: 'load', outcome: 'written' }, counts.written);
    for (const unit of run.units) this.#units.inc({ job, status: unit.status });
    if (run.status === 'succeeded') this.setLastSuccess(job, run.finishedAt);
  }

  setLastSuccess(job: string, at: Date): void {
    this.#lastSuccess.set({ job }, at.getTime() / 1000);
  }
}
