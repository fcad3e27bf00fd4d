import type { MetadataStore } from '../../store/store.ts';
import type { InletConfig } from '../config.ts';
import { loadCliJob } from '../job-loader.ts';
import type { Output } from '../output.ts';

/** `inlet validate`: exit 0 for a valid job; problems are thrown as InletErrors (exit 2) by the loader. */
export async function validateCommand(
  jobFile: string,
  store: MetadataStore,
  config: InletConfig,
  output: Output,
): Promise<number> {
  const { spec } = await loadCliJob(jobFile, store, config);
  output.out(`${jobFile}: valid job "${spec.name}"`);
  return 0;
}
