import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type {
  DeliverySummary,
  LandedUnit,
  Sink,
  Source,
  StagedOutput,
  UnitCandidate,
} from '../core/connector.ts';
import { InletError, toInletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { type Counts, emptyCounts, type MetadataStore, type RunStatus } from '../store/store.ts';
import { applyLifecycle, type UnitDispositions } from './dispositions.ts';
import { DuckDbSession } from './duckdb-session.ts';
import { failpoint } from './failpoint.ts';
import { newRunId } from './ids.ts';
import { dropUnitTables, normalizeUnit } from './normalize.ts';
import { writeRejectedRecords } from './rejected-records.ts';
import type { Reporter } from './reporting.ts';
import { withRetry } from './retry.ts';
import type { RoutedFile, SegregationSpec } from './segregate.ts';
import type { TransformStep } from './transforms/index.ts';
import {
  archiveOriginal,
  moveOriginalAside,
  type OutcomeContext,
  recordUnitFailure,
  reportRun,
  reportUnit,
  routeUnit,
} from './unit-outcomes.ts';

/** A job ready to run: its connectors already created from the spec. */
export interface RunnableJob {
  name: string;
  source: Source;
  transforms: readonly TransformStep[];
  sinks: readonly Sink[];
  /** Directory relative paths in the spec resolve against (the job file's). */
  baseDir: string;
  /** The spec as recorded with the run (secrets already redacted). */
  recordedSpec: unknown;
  /** What happens to a unit's original after it committed or failed (archive, move aside). */
  dispositions?: UnitDispositions;
  /** Set for a landing-zone job: files are routed to folders and jobs instead of loaded. */
  segregate?: SegregationSpec;
  /** Where file outcomes, API response summaries and run reports are published, if anywhere. */
  reporter?: Reporter;
}

export interface RunOptions {
  store: MetadataStore;
  dataDir: string;
  logger: Logger;
  /** Ingest units again even when the ledger says they were ingested. */
  reprocess?: boolean;
  memoryLimit: string;
  threads?: number;
  signal?: AbortSignal;
  /** Who started the run, for the audit log (the CLI, or an API key's name). */
  actor?: string;
  /** Use this run id (e.g. one the caller already logs under) instead of a new one. */
  runId?: string;
  /** Called as the run advances, for progress displays. */
  onProgress?: (progress: RunProgress) => void;
}

export interface RunProgress {
  runId: string;
  stage: 'plan' | 'extract' | 'normalize' | 'load' | 'commit' | 'done';
  unitsTotal: number;
  unitsDone: number;
  rows: number;
}

export interface UnitSummary extends Counts {
  uri: string;
  status: 'committed' | 'skipped' | 'failed';
  error?: string;
  /** Why a unit was skipped: unchanged since it was ingested, or a duplicate of ingested content. */
  reason?: 'unchanged' | 'duplicate';
  /** Where the original went afterwards (archive or failed folder). */
  moved_to?: string;
  /** For landing-zone jobs: the kind of file and the job it was routed to. */
  routed?: Omit<RoutedFile, 'uri'>;
  /** For API sinks: what was sent, succeeded, routed and refused, by response code. */
  delivery?: DeliverySummary;
}

export interface RunSummary {
  run_id: string;
  job: string;
  status: RunStatus;
  counts: Counts;
  units: UnitSummary[];
  duration_ms: number;
  error?: string;
}

/**
 * Runs a job once through the staged run: plan → extract → normalize → load → commit,
 * one unit at a time, with a ledger row per unit. First finishes what a crashed run of
 * the same job left half-committed, so that re-running after `kill -9` completes the work.
 */
export async function runJob(job: RunnableJob, options: RunOptions): Promise<RunSummary> {
  const started = Date.now();
  const runId = options.runId ?? newRunId();
  const { store } = options;
  const logger = options.logger.child({ job: job.name, run_id: runId });
  const signal = options.signal ?? new AbortController().signal;
  const holder = { runId, pid: process.pid, host: hostname() };
  const blocking = await store.acquireJobLock(job.name, holder, isAlive);
  if (blocking) {
    throw new InletError(
      'INLET_E_JOB_LOCKED',
      `job ${job.name} is already running (run ${blocking.runId}, pid ${blocking.pid})`,
    );
  }
  try {
    await recoverInterruptedRuns(job, options, logger);
    await store.createRun({
      runId,
      job: job.name,
      pid: process.pid,
      host: holder.host,
      spec: job.recordedSpec,
    });
    await store.appendAudit({
      actor: options.actor ?? 'cli',
      action: 'run.started',
      target: job.name,
      outcome: 'ok',
      details: { run_id: runId },
    });
    logger.info({}, 'run.started');
    const run = new JobRun(job, options, runId, logger, signal);
    let executed: Awaited<ReturnType<JobRun['execute']>>;
    try {
      executed = await run.execute();
    } catch (error) {
      // A failure of the run as a whole (source unreachable, cancelled): recorded, then reported.
      const failure = signal.aborted
        ? new InletError(
            'INLET_E_INTERRUPTED',
            'the run was stopped; run the same command again to finish it',
            { cause: error },
          )
        : toInletError(error);
      await store.finishRun(runId, {
        status: signal.aborted ? 'interrupted' : 'failed',
        error: failure.message,
        stageSeconds: run.stageSeconds,
        ...emptyCounts(),
      });
      await store.appendAudit({
        actor: options.actor ?? 'cli',
        action: 'run.finished',
        target: job.name,
        outcome: signal.aborted ? 'interrupted' : 'failed',
        details: { run_id: runId, code: failure.code },
      });
      logger.error({ code: failure.code, error: failure.message }, 'run.failed');
      throw failure;
    }
    const { units, stageSeconds } = executed;
    const counts = units.reduce((sum, u) => addCounts(sum, u), emptyCounts());
    const failed = units.filter((u) => u.status === 'failed');
    const status: RunStatus = failed.length ? 'failed' : 'succeeded';
    const error = failed.length
      ? `${failed.length} unit(s) failed: ${failed.map((u) => `${u.uri}: ${u.error}`).join('; ')}`
      : undefined;
    await store.finishRun(runId, { status, error: error ?? null, stageSeconds, ...counts });
    await store.appendAudit({
      actor: options.actor ?? 'cli',
      action: 'run.finished',
      target: job.name,
      outcome: status,
      details: { run_id: runId, ...counts },
    });
    // The report before run.finished, so that a log's last event stays the run's end.
    await reportRun(job, store, runId, logger);
    logger.info({ status, ...counts }, 'run.finished');
    return {
      run_id: runId,
      job: job.name,
      status,
      counts,
      units,
      duration_ms: Date.now() - started,
      ...(error ? { error } : {}),
    };
  } finally {
    await store.releaseJobLock(job.name, runId);
    await closeConnections(job, logger);
  }
}

/** Closes the job's remote connections (SFTP sessions keep the process alive otherwise). */
export async function closeConnections(job: RunnableJob, logger: Logger): Promise<void> {
  const stores = [job.dispositions?.onSuccess?.store, job.dispositions?.onFailure?.store];
  const closers = [
    job.source.close?.(),
    ...job.sinks.map((sink) => sink.close?.()),
    ...stores.map((store) => store?.close()),
  ];
  for (const result of await Promise.allSettled(closers)) {
    if (result.status === 'rejected')
      logger.warn({ error: String(result.reason) }, 'connection.close_failed');
  }
}

/** Applies a job's archive lifecycle rule, then closes its connections; returns how many archives expired. */
export async function housekeepJob(job: RunnableJob, logger: Logger): Promise<number> {
  const plan = job.dispositions?.onSuccess;
  try {
    if (!plan?.lifecycle) return 0;
    return await applyLifecycle({ ...plan, lifecycle: plan.lifecycle }, logger.child({ job: job.name }));
  } finally {
    await closeConnections(job, logger);
  }
}

function addCounts(a: Counts, b: Counts): Counts {
  return {
    received: a.received + b.received,
    written: a.written + b.written,
    quarantined: a.quarantined + b.quarantined,
    filtered: a.filtered + b.filtered,
  };
}

/**
 * We hold the job's lock, so any unit of this job still between extract and commit
 * belongs to a process that died. Units it had begun to commit are rolled forward
 * (their staged files are all on disk and the moves are idempotent); everything else it
 * staged is discarded and is ingested again by this run, as the ledger never marked
 * those units committed. Runs left as running are marked interrupted.
 */
async function recoverInterruptedRuns(job: RunnableJob, options: RunOptions, logger: Logger): Promise<void> {
  const { store } = options;
  const deadRuns = new Set<string>();
  for (const unit of await store.unfinishedUnits(job.name)) {
    deadRuns.add(unit.runId);
    if (unit.status === 'committing') {
      for (const staged of unit.manifest as StagedOutput[]) await job.sinks[staged.sink].commit(staged);
      await store.updateUnit(unit.unitId, { status: 'committed', finishedAt: new Date().toISOString() });
      logger.info({ interrupted_run: unit.runId, unit: unit.uri }, 'unit.commit_recovered');
    } else {
      await store.updateUnit(unit.unitId, {
        status: 'failed',
        error: 'interrupted',
        errorCode: 'INLET_E_INTERRUPTED',
        ...emptyCounts(),
      });
    }
  }
  for (const run of await store.runningRuns(job.name)) deadRuns.add(run.runId);
  for (const runId of deadRuns) {
    for (const sink of job.sinks) await sink.discardStaging(runId);
    await rm(resolve(options.dataDir, 'spool', runId), { recursive: true, force: true });
    await markInterrupted(store, runId);
    logger.warn({ interrupted_run: runId }, 'run.interrupted');
  }
}

/** Records a run whose process is gone as interrupted, with the counts of the units it did commit. */
export async function markInterrupted(store: MetadataStore, runId: string): Promise<void> {
  const run = await store.getRun(runId);
  if (run?.status !== 'running') return;
  const counts = (await store.listUnits(runId))
    .filter((u) => u.status === 'committed')
    .reduce((sum, u) => addCounts(sum, u), emptyCounts());
  await store.finishRun(runId, {
    status: 'interrupted',
    error: 'the process stopped before the run finished',
    stageSeconds: run.stageSeconds,
    ...counts,
  });
}

/** True while the process holding a run or lock is alive (other hosts are assumed alive). */
export function isAlive(holder: { pid: number; host: string }): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The state of one run while it executes. */
class JobRun {
  readonly #job: RunnableJob;
  readonly #options: RunOptions;
  readonly #runId: string;
  readonly #logger: Logger;
  readonly #signal: AbortSignal;
  readonly #spoolDir: string;
  readonly stageSeconds: Record<string, number> = {};
  /** The unit whose files are being moved into place, if any. */
  #committing: string | null = null;
  readonly #progress: RunProgress;
  /** What archiving, moving aside, routing and reporting need from this run. */
  readonly #outcomes: OutcomeContext;

  constructor(job: RunnableJob, options: RunOptions, runId: string, logger: Logger, signal: AbortSignal) {
    this.#job = job;
    this.#options = options;
    this.#runId = runId;
    this.#logger = logger;
    this.#signal = signal;
    this.#spoolDir = resolve(options.dataDir, 'spool', runId);
    this.#progress = { runId, stage: 'plan', unitsTotal: 0, unitsDone: 0, rows: 0 };
    this.#outcomes = { job, store: options.store, runId, logger, signal };
  }

  async execute(): Promise<{ units: UnitSummary[]; stageSeconds: Record<string, number> }> {
    const { source } = this.#job;
    const candidates = await this.#timed('plan', () =>
      withRetry(() => source.list(this.#signal), {
        what: 'list source',
        logger: this.#logger,
        signal: this.#signal,
      }),
    );
    this.#progress.unitsTotal = candidates.length;
    this.#report('plan');
    await mkdir(this.#spoolDir, { recursive: true });
    const session = await DuckDbSession.open({
      memoryLimit: this.#options.memoryLimit,
      threads: this.#options.threads,
      tempDirectory: join(this.#spoolDir, 'duckdb-tmp'),
      allowedDirectories: [
        ...source.readDirectories,
        this.#spoolDir,
        this.#quarantineDir(),
        ...this.#job.sinks.flatMap((sink) => sink.writeDirectories),
      ],
    });
    const units: UnitSummary[] = [];
    const stopQuery = () => session.interrupt();
    this.#signal.addEventListener('abort', stopQuery, { once: true });
    try {
      for (const [index, candidate] of candidates.entries()) {
        this.#signal.throwIfAborted();
        units.push(await this.#ingest(session, candidate, index + 1));
        await reportUnit(this.#outcomes, `${this.#runId}-${index + 1}`);
        this.#progress.unitsDone += 1;
        this.#report(this.#progress.stage);
      }
      this.#signal.throwIfAborted();
      if (!units.some((u) => u.status === 'failed')) {
        for (const sink of this.#job.sinks) await sink.finishRun(this.#runId);
      }
    } finally {
      this.#signal.removeEventListener('abort', stopQuery);
      session.close();
      await rm(this.#spoolDir, { recursive: true, force: true });
    }
    this.#report('done');
    return { units, stageSeconds: this.stageSeconds };
  }

  #quarantineDir(): string {
    return resolve(this.#options.dataDir, 'quarantine', this.#runId);
  }

  #report(stage: RunProgress['stage']): void {
    this.#progress.stage = stage;
    this.#options.onProgress?.({ ...this.#progress });
  }

  async #timed<T>(stage: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.stageSeconds[stage] = (this.stageSeconds[stage] ?? 0) + (performance.now() - start) / 1000;
    }
  }

  /** Decides whether a unit is new, and if so takes it through every stage. */
  async #ingest(session: DuckDbSession, candidate: UnitCandidate, seq: number): Promise<UnitSummary> {
    const { store } = this.#options;
    const { source } = this.#job;
    const unitLogger = this.#logger.child({ unit: candidate.uri });
    const rebuild = this.#options.reprocess || this.#job.sinks.some((sink) => sink.rebuildsEachRun);
    const previous = rebuild ? undefined : await store.lastCommittedUnit(this.#job.name, candidate.uri);
    const skipped: UnitSummary = { uri: candidate.uri, status: 'skipped', ...emptyCounts() };
    const unitId = `${this.#runId}-${seq}`;
    const record = {
      unitId,
      runId: this.#runId,
      job: this.#job.name,
      seq,
      uri: candidate.uri,
      size: candidate.size,
      mtimeMs: candidate.mtimeMs,
      startedAt: new Date().toISOString(),
    };
    if (this.#job.segregate) return routeUnit(this.#outcomes, candidate, record, unitLogger);
    if (previous && previous.size === candidate.size && previous.mtimeMs === candidate.mtimeMs) {
      await store.addUnit({ ...record, contentHash: previous.contentHash, status: 'skipped' });
      unitLogger.info({ reason: 'unchanged' }, 'unit.skipped');
      // Still here although ingested: its archiving was cut short last time.
      return archiveOriginal(
        this.#outcomes,
        unitId,
        candidate,
        previous.contentHash,
        { ...skipped, reason: 'unchanged' },
        unitLogger,
      );
    }
    let landed: LandedUnit;
    try {
      this.#report('extract');
      landed = await this.#timed('extract', () =>
        withRetry(() => source.land(candidate, this.#spoolDir, this.#signal), {
          what: `read ${candidate.uri}`,
          logger: unitLogger,
          signal: this.#signal,
        }),
      );
    } catch (error) {
      const failure = toInletError(error, 'INLET_E_IO');
      await store.addUnit({ ...record, contentHash: null, status: 'failed' });
      const failed = await recordUnitFailure(this.#outcomes, unitId, candidate.uri, failure, unitLogger);
      return moveOriginalAside(this.#outcomes, unitId, candidate, failure, failed, unitLogger);
    }
    const duplicateOf = await this.#duplicateOf(landed, previous?.contentHash ?? null);
    if (duplicateOf) {
      await store.addUnit({ ...record, contentHash: duplicateOf.contentHash, status: 'skipped' });
      await store.updateUnit(unitId, { error: `duplicate of ${duplicateOf.uri} (run ${duplicateOf.runId})` });
      unitLogger.info(
        { reason: 'duplicate', duplicate_of: duplicateOf.uri, run_id_of: duplicateOf.runId },
        'unit.skipped',
      );
      return archiveOriginal(
        this.#outcomes,
        unitId,
        candidate,
        duplicateOf.contentHash,
        { ...skipped, reason: 'duplicate' },
        unitLogger,
      );
    }
    await store.addUnit({ ...record, contentHash: null, status: 'extracted' });
    unitLogger.info({ size: landed.size }, 'unit.extracted');
    try {
      return await this.#process(session, landed, unitId, seq, unitLogger);
    } catch (error) {
      // Stopped on purpose, or failed half way through its moves: leave the unit as it is
      // for the next run's recovery (which rolls a commit forward) and stop the run.
      if (this.#signal.aborted || this.#committing === unitId) throw error;
      const failure = toInletError(error);
      const failed = await recordUnitFailure(this.#outcomes, unitId, candidate.uri, failure, unitLogger);
      for (const sink of this.#job.sinks) await sink.discardStaging(this.#runId);
      return moveOriginalAside(this.#outcomes, unitId, candidate, failure, failed, unitLogger);
    } finally {
      await dropUnitTables(session, `u${seq}`);
    }
  }

  async #process(
    session: DuckDbSession,
    landed: LandedUnit,
    unitId: string,
    seq: number,
    logger: Logger,
  ): Promise<UnitSummary> {
    const { store } = this.#options;
    this.#report('normalize');
    const quarantinePath = join(this.#quarantineDir(), `${seq}.parquet`);
    const normalized = await this.#timed('normalize', () =>
      normalizeUnit({
        session,
        unit: landed,
        format: this.#job.source.format,
        transforms: this.#job.transforms,
        tablePrefix: `u${seq}`,
        spoolDir: this.#spoolDir,
        baseDir: this.#job.baseDir,
        quarantinePath,
        logger,
        signal: this.#signal,
      }),
    );
    const contentHash = await landed.contentHash;
    await this.#job.source.verifyUnchanged(landed);
    const { counts } = normalized;
    await store.updateUnit(unitId, { status: 'normalized', contentHash, ...counts });
    logger.info({ sha256: contentHash, ...counts }, 'unit.normalized');
    if (normalized.quarantinedByRule.length) {
      await store.addQuarantineEntries(
        normalized.quarantinedByRule.map(({ rule, count }) => ({
          runId: this.#runId,
          unitId,
          uri: landed.uri,
          rule,
          count,
          path: quarantinePath,
        })),
      );
      logger.warn(
        { quarantined: counts.quarantined, rules: normalized.quarantinedByRule },
        'unit.quarantined',
      );
    }
    failpoint('unit.normalized');

    this.#report('load');
    const staged = await this.#timed('load', async () => {
      const outputs: StagedOutput[] = [];
      for (const [index, sink] of this.#job.sinks.entries()) {
        const output = await sink.stage(
          session,
          {
            relation: normalized.liveRows,
            rows: counts.written,
            runId: this.#runId,
            unitKey: String(seq),
            spoolDir: this.#spoolDir,
            linedRelation: normalized.linedRows,
            unitUri: landed.uri,
            contentHash,
          },
          index,
          this.#signal,
        );
        if (output.rows + (output.rejected?.length ?? 0) !== counts.written) {
          throw new InletError(
            'INLET_E_INTERNAL',
            `sink ${index} wrote ${output.rows} rows of ${counts.written} for ${landed.uri}`,
          );
        }
        outputs.push(output);
      }
      return outputs;
    });
    await this.#quarantineRejected(session, staged, landed.uri, unitId, seq, counts, logger);
    const delivery = staged.find((output) => output.delivery)?.delivery;
    await store.updateUnit(unitId, { status: 'loaded', delivery });
    failpoint('unit.loaded');

    this.#report('commit');
    await this.#timed('commit', async () => {
      // The manifest is durable before the first move, so a crash mid-commit is rolled forward.
      // Rejected records are in the quarantine already; the manifest keeps only what commit needs.
      const manifest = staged.map(({ rejected: _rejected, ...output }) => output);
      await store.updateUnit(unitId, { status: 'committing', manifest });
      this.#committing = unitId;
      failpoint('unit.committing');
      for (const output of staged) {
        await withRetry(() => this.#job.sinks[output.sink].commit(output), {
          what: `commit ${landed.uri}`,
          logger,
          signal: this.#signal,
        });
      }
      failpoint('unit.committed-files');
      await store.updateUnit(unitId, { status: 'committed', finishedAt: new Date().toISOString() });
      this.#committing = null;
    });
    this.#progress.rows += counts.received;
    logger.info({ ...counts }, 'unit.committed');
    if (delivery) {
      return archiveOriginal(
        this.#outcomes,
        unitId,
        landed,
        contentHash,
        { uri: landed.uri, status: 'committed', ...counts, delivery },
        logger,
      );
    }
    return archiveOriginal(
      this.#outcomes,
      unitId,
      landed,
      contentHash,
      { uri: landed.uri, status: 'committed', ...counts },
      logger,
    );
  }

  /**
   * Quarantines the records a sink's far side refused (an API's 3217, 624…) next to the
   * unit's other rejects, and moves them from written to quarantined so the identity holds.
   */
  async #quarantineRejected(
    session: DuckDbSession,
    staged: StagedOutput[],
    uri: string,
    unitId: string,
    seq: number,
    counts: Counts,
    logger: Logger,
  ): Promise<void> {
    const rejected = staged.flatMap((output) => output.rejected ?? []);
    if (!rejected.length) return;
    const path = join(this.#quarantineDir(), `${seq}-delivery.parquet`);
    const byRule = await writeRejectedRecords(
      session,
      rejected,
      uri,
      path,
      join(this.#spoolDir, `${seq}-rejected.json`),
    );
    counts.written -= rejected.length;
    counts.quarantined += rejected.length;
    await this.#options.store.addQuarantineEntries(
      byRule.map(({ rule, count }) => ({ runId: this.#runId, unitId, uri, rule, count, path })),
    );
    await this.#options.store.updateUnit(unitId, { ...counts });
    logger.warn({ quarantined: rejected.length, rules: byRule }, 'unit.delivery_rejected');
  }

  /**
   * The committed unit with the same content, if any: the same file with a new mtime, or
   * (for landing zones, where files get re-uploaded under new names) any file of this job.
   */
  async #duplicateOf(
    landed: LandedUnit,
    previousHash: string | null,
  ): Promise<{ uri: string; runId: string; contentHash: string } | null> {
    // A new local file is hashed while the data plane reads it: waiting here would serialise the two.
    if (!previousHash && !this.#job.source.dedupeByContent) return null;
    const contentHash = await landed.contentHash.catch(() => null);
    if (!contentHash) return null;
    if (previousHash === contentHash) {
      const previous = await this.#options.store.lastCommittedUnit(this.#job.name, landed.uri);
      if (previous) return { uri: previous.uri, runId: previous.runId, contentHash };
    }
    if (!this.#job.source.dedupeByContent) return null;
    const same = await this.#options.store.committedUnitWithContent(this.#job.name, contentHash);
    return same ? { uri: same.uri, runId: same.runId, contentHash } : null;
  }
}
