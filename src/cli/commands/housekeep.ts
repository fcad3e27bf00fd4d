import { join } from 'node:path';
import { createRunnableJob } from '../../connectors/runnable-job.ts';
import { housekeepJob } from '../../engine/run-job.ts';
import { createLogger } from '../../observability/logger.ts';
import { SqliteStore } from '../../store/sqlite/sqlite-store.ts';
import type { InletConfig } from '../config.ts';
import { loadCliJob } from '../job-loader.ts';
import type { Output } from '../output.ts';

/** `inlet housekeep <job>`: applies the job's archive lifecycle rule now (what `inlet serve` does hourly). */
export async function housekeepCommand(
  jobFile: string,
  config: InletConfig,
  output: Output,
): Promise<number> {
  const store = new SqliteStore(join(config.dataDir, 'inlet.db'));
  const { logger, close } = createLogger({ level: config.logLevel });
  try {
    const loaded = await loadCliJob(jobFile, store, config);
    if (!loaded.spec.on_success?.archive?.lifecycle) {
      output.out(`${loaded.spec.name} has no on_success.archive.lifecycle rule; nothing to do`);
      return 0;
    }
    const expired = await housekeepJob(createRunnableJob(loaded.spec, loaded.baseDir, logger), logger);
    output.out(`${loaded.spec.name}: ${expired} archive(s) expired`);
    return 0;
  } finally {
    await store.close();
    await close();
  }
}
