import { jobSchema } from '../connectors/registry.ts';
import { loadConnections } from '../engine/connections.ts';
import { loadJobFile } from '../engine/job-file.ts';
import { SecretBox } from '../engine/secret-box.ts';
import type { MetadataStore } from '../store/store.ts';
import type { InletConfig } from './config.ts';

/** Loads a job file as the CLI runs it: `connection:` references resolve against the store's connections. */
export async function loadCliJob(
  file: string,
  store: MetadataStore,
  config: InletConfig,
  overrides: string[] = [],
) {
  const connections = await loadConnections(store, SecretBox.fromEnvironment(config.dataDir));
  return loadJobFile(file, jobSchema, { overrides, connections });
}
