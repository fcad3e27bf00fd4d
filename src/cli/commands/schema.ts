import { jobJsonSchema } from '../../connectors/registry.ts';
import type { Output } from '../output.ts';

/** `inlet schema`: the job JSON Schema (draft-07), for editor autocompletion of job files. */
export function schemaCommand(output: Output): number {
  output.out(JSON.stringify(jobJsonSchema(), null, 2));
  return 0;
}
