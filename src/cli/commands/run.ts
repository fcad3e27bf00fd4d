import { join } from 'node:path';
import { createRunnableJob } from '../../connectors/runnable-job.ts';
import { newRunId } from '../../engine/ids.ts';
import { type RunSummary, runJob } from '../../engine/run-job.ts';
import { createLogger, runLogPath } from '../../observability/logger.ts';
import { SqliteStore } from '../../store/sqlite/sqlite-store.ts';
import type { InletConfig } from '../config.ts';
import { loadCliJob } from '../job-loader.ts';
import { formatNumber, type Output } from '../output.ts';
import { createProgressLine } from '../progress.ts';

export interface RunArgs {
  jobFile: string;
  overrides: string[];
  json: boolean;
  reprocess: boolean;
}

/** `inlet run`: exit 0 when the run succeeded, 1 when it failed (bad job files throw, exit 2). */
export async function runCommand(args: RunArgs, config: InletConfig, output: Output): Promise<number> {
  const store = new SqliteStore(join(config.dataDir, 'inlet.db'));
  const loaded = await loadCliJob(args.jobFile, store, config, args.overrides).catch(async (error) => {
    await store.close();
    throw error;
  });
  const job = loaded.spec;
  const runId = newRunId();
  const { logger, close: closeLog } = createLogger({
    level: config.logLevel,
    file: runLogPath(config.dataDir, runId),
  });
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted by signal'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = output.interactive && !args.json ? createProgressLine(process.stderr) : undefined;
  try {
    const summary = await runJob(createRunnableJob(job, loaded.baseDir, logger, store), {
      store,
      dataDir: config.dataDir,
      logger,
      runId,
      reprocess: args.reprocess,
      memoryLimit: job.engine?.memory_limit ?? config.memoryLimit,
      threads: job.engine?.threads ?? config.threads,
      signal: controller.signal,
      onProgress: progress?.update,
    });
    progress?.stop();
    if (args.json) output.out(JSON.stringify(summary));
    else printSummary(summary, output);
    return summary.status === 'succeeded' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await store.close();
    await closeLog();
  }
}

function printSummary(summary: RunSummary, output: Output): void {
  const { counts } = summary;
  output.out(
    `run ${summary.run_id} of ${summary.job}: ${summary.status} in ${(summary.duration_ms / 1000).toFixed(1)}s`,
  );
  output.out(
    `  received ${formatNumber(counts.received)} · written ${formatNumber(counts.written)} · quarantined ${formatNumber(counts.quarantined)} · filtered ${formatNumber(counts.filtered)}`,
  );
  for (const unit of summary.units) {
    const tally = unit.routed
      ? `routed as ${unit.routed.kind ?? 'unmatched'}${unit.routed.job ? ` for ${unit.routed.job}` : ''}`
      : unit.status === 'skipped'
        ? (unit.reason ?? 'unchanged')
        : `${formatNumber(unit.received)} in, ${formatNumber(unit.written)} written, ${formatNumber(unit.quarantined)} quarantined, ${formatNumber(unit.filtered)} filtered`;
    const where = unit.moved_to ? `\n            → ${unit.moved_to}` : '';
    output.out(
      `  ${unit.status.padEnd(9)} ${unit.uri}  ${tally}${unit.error ? `\n            ${unit.error}` : ''}${where}`,
    );
  }
  if (counts.quarantined) output.out(`  see the rejected rows: inlet quarantine ${summary.run_id}`);
}
