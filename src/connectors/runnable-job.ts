import type { Logger } from '../core/logger.ts';
import { redactSecrets } from '../core/redact.ts';
import type { RunnableJob } from '../engine/run-job.ts';
import { createSinks, createSource, type JobSpec } from './registry.ts';

/** Creates a job's connectors from its validated spec: what `inlet run` and the API both execute. */
export function createRunnableJob(spec: JobSpec, baseDir: string, logger: Logger): RunnableJob {
  const context = { baseDir, logger };
  return {
    name: spec.name,
    source: createSource(spec.source as { type: string }, context),
    sinks: createSinks(spec, context),
    transforms: spec.transforms,
    baseDir,
    recordedSpec: redactSecrets(spec),
  };
}
