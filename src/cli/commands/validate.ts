import { jobSchema } from '../../connectors/registry.ts';
import { loadJobFile } from '../../engine/job-file.ts';
import type { Output } from '../output.ts';

/** `inlet validate`: exit 0 for a valid job; problems are thrown as InletErrors (exit 2) by the loader. */
export async function validateCommand(jobFile: string, output: Output): Promise<number> {
  const { spec } = await loadJobFile(jobFile, jobSchema);
  output.out(`${jobFile}: valid job "${spec.name}"`);
  return 0;
}
