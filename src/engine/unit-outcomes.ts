import type { UnitCandidate } from '../core/connector.ts';
import { InletError, toInletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { emptyCounts, type MetadataStore } from '../store/store.ts';
import { archiveUnit, moveUnitAside } from './dispositions.ts';
import { apiResponseSummary, buildReport } from './report.ts';
import { withRetry } from './retry.ts';
import type { RunnableJob, UnitSummary } from './run-job.ts';
import { routeFile } from './segregate.ts';

/** What the steps after a unit's load need from its run. */
export interface OutcomeContext {
  job: RunnableJob;
  store: MetadataStore;
  runId: string;
  /** The run's logger (report events are per run, not per unit). */
  logger: Logger;
  signal: AbortSignal;
}

/** A unit's ledger row before the run decides its hash and status. */
export type UnitRecordDraft = Omit<Parameters<MetadataStore['addUnit']>[0], 'contentHash' | 'status'>;

/** Records a unit as failed with the error's code and message, logs it, and returns its summary. */
export async function recordUnitFailure(
  context: OutcomeContext,
  unitId: string,
  uri: string,
  failure: InletError,
  logger: Logger,
): Promise<UnitSummary> {
  await context.store.updateUnit(unitId, {
    status: 'failed',
    error: failure.message,
    errorCode: failure.code,
    finishedAt: new Date().toISOString(),
  });
  logger.error({ code: failure.code, error: failure.message }, 'unit.failed');
  return { uri, status: 'failed', error: failure.message, ...emptyCounts() };
}

/**
 * Archives a unit's original after it committed (or was found already ingested); a failure is
 * logged, and the next run, finding the file still there, archives it then.
 */
export async function archiveOriginal(
  context: OutcomeContext,
  unitId: string,
  unit: UnitCandidate,
  contentHash: string | null,
  summary: UnitSummary,
  logger: Logger,
): Promise<UnitSummary> {
  const plan = context.job.dispositions?.onSuccess;
  const origin = context.job.source.origin;
  if (!plan || !origin) return summary;
  try {
    const archivedTo = await withRetry(
      () => archiveUnit(origin, unit, plan, { runId: context.runId, contentHash }),
      { what: `archive ${unit.uri}`, logger, signal: context.signal },
    );
    await context.store.updateUnit(unitId, { movedTo: archivedTo });
    logger.info({ archived_to: archivedTo, encrypted: Boolean(plan.encryptWith) }, 'unit.archived');
    return { ...summary, moved_to: archivedTo };
  } catch (error) {
    if (toInletError(error).code === 'INLET_E_OBJECT_NOT_FOUND') return summary;
    logger.error({ error: toInletError(error).message }, 'unit.archive_failed');
    return summary;
  }
}

/**
 * Puts a failed unit's original aside with an error report, unless the failure may clear
 * by itself (a file still being written, a connection that dropped): those stay for the next run.
 */
export async function moveOriginalAside(
  context: OutcomeContext,
  unitId: string,
  unit: UnitCandidate,
  failure: InletError,
  summary: UnitSummary,
  logger: Logger,
): Promise<UnitSummary> {
  const plan = context.job.dispositions?.onFailure;
  const origin = context.job.source.origin;
  if (!plan || !origin || failure.kind === 'transient' || context.signal.aborted) return summary;
  try {
    const movedTo = await withRetry(
      () =>
        moveUnitAside(origin, unit, plan, {
          job: context.job.name,
          run_id: context.runId,
          failed_at: new Date().toISOString(),
          code: failure.code,
          error: failure.message,
          details: failure.details,
        }),
      { what: `move ${unit.uri} aside`, logger, signal: context.signal },
    );
    await context.store.updateUnit(unitId, { movedTo });
    logger.warn({ moved_to: movedTo }, 'unit.moved_aside');
    return { ...summary, moved_to: movedTo };
  } catch (error) {
    logger.error({ error: toInletError(error).message }, 'unit.move_aside_failed');
    return summary;
  }
}

/** Landing-zone jobs: routes the file to its kind's folder and job; recorded as a unit with no rows. */
export async function routeUnit(
  context: OutcomeContext,
  candidate: UnitCandidate,
  record: UnitRecordDraft,
  logger: Logger,
): Promise<UnitSummary> {
  const { store, job } = context;
  const origin = job.source.origin;
  const spec = job.segregate;
  if (!origin || !spec) throw new InletError('INLET_E_INTERNAL', 'segregation needs a file source');
  await store.addUnit({ ...record, contentHash: null, status: 'extracted' });
  try {
    const routed = await withRetry(() => routeFile(origin, candidate, spec), {
      what: `route ${candidate.uri}`,
      logger,
      signal: context.signal,
    });
    await store.updateUnit(record.unitId, {
      status: 'committed',
      movedTo: routed.movedTo ?? undefined,
      finishedAt: new Date().toISOString(),
    });
    logger.info({ kind: routed.kind, moved_to: routed.movedTo, for_job: routed.job }, 'file.routed');
    const { uri: _uri, ...route } = routed;
    return { uri: candidate.uri, status: 'committed', routed: route, ...emptyCounts() };
  } catch (error) {
    return recordUnitFailure(
      context,
      record.unitId,
      candidate.uri,
      toInletError(error, 'INLET_E_IO'),
      logger,
    );
  }
}

/**
 * Reports a finished unit: a `report.file` log event and, when the job publishes reporting
 * events, its file outcome and a summary of the API's answers to its calls.
 */
export async function reportUnit(context: OutcomeContext, unitId: string): Promise<void> {
  const { store, job, runId } = context;
  const unit = await store.getUnit(unitId);
  const run = await store.getRun(runId);
  // Unchanged files are not news; duplicates are (their unit carries what they duplicate).
  if (!unit || !run || (unit.status === 'skipped' && !unit.error)) return;
  const [file] = buildReport(run, [unit]).files;
  if (!file) return;
  context.logger.info({ unit: unit.uri, ...file }, 'report.file');
  if (!job.reporter) return;
  const base = { job: job.name, run_id: runId, at: new Date().toISOString() };
  await job.reporter.publish({ event: 'file.outcome', ...base, file });
  const calls = await store.listHttpCalls(runId, unit.uri);
  if (calls.length) {
    await job.reporter.publish({
      event: 'api.responses',
      ...base,
      unit: unit.uri,
      endpoints: apiResponseSummary(calls),
    });
  }
}

/** The run's reconciliation as a `report.run` log event, and published when the job reports. */
export async function reportRun(
  job: RunnableJob,
  store: MetadataStore,
  runId: string,
  logger: Logger,
): Promise<void> {
  const run = await store.getRun(runId);
  if (!run) return;
  const report = buildReport(run, await store.listUnits(runId));
  logger.info(
    { ...report.totals, identity_holds: report.identity_holds, files: report.files.length },
    'report.run',
  );
  await job.reporter?.publish({
    event: 'run.report',
    job: job.name,
    run_id: runId,
    at: new Date().toISOString(),
    report,
  });
}
