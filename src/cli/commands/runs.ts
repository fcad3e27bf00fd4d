import { InletError } from '../../core/errors.ts';
import { buildReport, reportCsv } from '../../engine/report.ts';
import { isAlive, markInterrupted } from '../../engine/run-job.ts';
import type { MetadataStore, RunRecord } from '../../store/store.ts';
import { formatNumber, type Output } from '../output.ts';

/** `inlet runs [list]` and `inlet runs show <run_id>`. */
export async function runsCommand(
  store: MetadataStore,
  args: { show?: string; report?: string; json: boolean; job?: string },
  output: Output,
): Promise<number> {
  if (args.report) {
    const run = await store.getRun(args.report);
    if (!run) throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${args.report}`);
    const report = buildReport(run, await store.listUnits(run.runId));
    output.out(args.json ? JSON.stringify(report) : reportCsv(report).trimEnd());
    return 0;
  }
  // A run whose process is gone is shown as what it is, without waiting for the job's next run.
  for (const run of await store.listRuns({ status: 'running', limit: 1000 })) {
    if (!isAlive(run)) await markInterrupted(store, run.runId);
  }
  if (args.show) {
    const run = await store.getRun(args.show);
    if (!run) throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${args.show}`);
    const units = await store.listUnits(run.runId);
    if (args.json) {
      output.out(
        JSON.stringify({ ...publicRun(run), units: units.map(({ manifest: _m, ...unit }) => unit) }, null, 2),
      );
      return 0;
    }
    output.out(`${line(run)}`);
    if (run.error) output.out(`  error: ${run.error}`);
    output.out(
      `  stages: ${
        Object.entries(run.stageSeconds)
          .map(([stage, s]) => `${stage} ${s.toFixed(2)}s`)
          .join(' · ') || '-'
      }`,
    );
    for (const unit of units) {
      output.out(
        `  ${unit.status.padEnd(10)} ${unit.uri}  received ${unit.received}, written ${unit.written}, quarantined ${unit.quarantined}, filtered ${unit.filtered}${unit.error ? `  (${unit.error})` : ''}`,
      );
    }
    return 0;
  }
  const runs = await store.listRuns({ job: args.job, limit: 50 });
  if (args.json) output.out(JSON.stringify(runs.map(publicRun), null, 2));
  else if (!runs.length) output.out('no runs yet');
  else for (const run of runs) output.out(line(run));
  return 0;
}

function publicRun(run: RunRecord) {
  const { spec: _spec, ...rest } = run;
  return rest;
}

function line(run: RunRecord): string {
  return `${run.runId}  ${run.job.padEnd(20)} ${run.status.padEnd(11)} ${run.startedAt}  received ${formatNumber(run.received)} · written ${formatNumber(run.written)} · quarantined ${formatNumber(run.quarantined)} · filtered ${formatNumber(run.filtered)}`;
}
